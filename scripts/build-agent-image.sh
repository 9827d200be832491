#!/usr/bin/env bash
# Builds the image the docker backend starts machines from, out of this tree's agent: FROM
# scratch, the agent with the shared libraries it links, and busybox (busybox-static) for a
# shell and the usual commands. No registry is needed: the image is imported straight into the
# daemon.
#   ./scripts/build-agent-image.sh [--host unix:///var/run/docker.sock] [--tag autovibe-agent:latest]
# BUILD_DIR picks the build tree (default: build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
TAG=autovibe-agent:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    *) echo "usage: $0 [--host unix:///path/docker.sock] [--tag NAME:TAG]" >&2; exit 2 ;;
  esac
done

AGENT="$BUILD_DIR/bin/autovibe-agent"
[ -x "$AGENT" ] || { echo "build-agent-image: $AGENT is missing; build first" >&2; exit 1; }
BUSYBOX=/bin/busybox  # static, from busybox-static: it needs no library in the image
[ -x "$BUSYBOX" ] || { echo "build-agent-image: busybox is missing (apt install busybox-static)" >&2; exit 1; }

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,usr/local/bin,etc,tmp,root,var/lib/autovibe,etc/autovibe}
chmod 1777 "$rootfs/tmp"
# Without debug info: the image is a tenth of the size.
strip -o "$rootfs/usr/local/bin/autovibe-agent" "$AGENT"
# The agent's shared libraries, at the paths the dynamic loader looks in.
ldd "$AGENT" | awk '/=> \// {print $3} /ld-linux/ && !/=>/ {print $1}' | while read -r lib; do
  cp -L --parents "$lib" "$rootfs"
done
cp "$BUSYBOX" "$rootfs/bin/busybox"
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

tar -C "$rootfs" -c . | docker --host "$HOST" import \
  --change 'ENV PATH=/usr/local/bin:/bin' \
  --change 'ENTRYPOINT []' \
  --change 'CMD ["/usr/local/bin/autovibe-agent", "--config", "/etc/autovibe/agent.toml"]' \
  - "$TAG" >/dev/null
echo "build-agent-image: $TAG ($(du -sh "$rootfs" | cut -f1)) is in the daemon at $HOST"
