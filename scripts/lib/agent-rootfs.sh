# Sourced by the image scripts: fills a root file system with this tree's agent (stripped),
# the shared libraries it links, busybox (busybox-static: a shell and the usual commands) and
# the CA bundle. Needs AGENT (the agent binary) set.
#   agent_rootfs DIR
# rootfs_libs DIR FILE...: the shared libraries the files link (none for a script or a static
# binary), copied into DIR at the paths the dynamic loader looks in.
rootfs_libs() {
  local rootfs=$1 lib
  shift
  for f in "$@"; do
    { ldd "$f" 2>/dev/null || true; } | awk '/=> \// {print $3} /ld-linux/ && !/=>/ {print $1}'
  done | sort -u | while read -r lib; do
    [ -e "$rootfs$lib" ] || cp -L --parents "$lib" "$rootfs"
  done
}

agent_rootfs() {
  local rootfs=$1
  local busybox=/bin/busybox  # static: it needs no library in the image
  [ -x "$AGENT" ] || { echo "$0: $AGENT is missing; build first" >&2; return 1; }
  [ -x "$busybox" ] || { echo "$0: busybox is missing (apt install busybox-static)" >&2; return 1; }
  mkdir -p "$rootfs"/{bin,usr/local/bin,etc,tmp,root,var/lib/autovibe,etc/autovibe}
  chmod 1777 "$rootfs/tmp"
  # Without debug info: the image is a tenth of the size.
  strip -o "$rootfs/usr/local/bin/autovibe-agent" "$AGENT"
  # The agent's shared libraries, at the paths the dynamic loader looks in.
  rootfs_libs "$rootfs" "$AGENT"
  # bubblewrap boxes each task (README.md, "Security"), with the libraries it links.
  local bwrap=/usr/bin/bwrap
  [ -x "$bwrap" ] || { echo "$0: bwrap is missing (apt install bubblewrap)" >&2; return 1; }
  mkdir -p "$rootfs/usr/bin" "$rootfs/run"
  cp "$bwrap" "$rootfs/usr/bin/bwrap"
  rootfs_libs "$rootfs" "$bwrap"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
  echo 'root:x:0:' > "$rootfs/etc/group"
  # TLS to real LLM providers needs the CA bundle.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  fi
}
