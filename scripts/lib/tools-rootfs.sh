# Sourced by scripts/build-agent-image.sh after agent_rootfs: adds the coding tools to a root
# file system, copied from this host: git (with its helpers and templates), Node, and the npm
# tools scripts/install-deps.sh installed from templates/tools/*/package-lock.json, which must be
# the tree's (else it says to run install-deps again), with the same links in /usr/local/bin.
#   tools_rootfs DIR
tools_rootfs() {
  local rootfs=$1 root prefix=/usr/local/lib/autovibe-tools tool binary
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  local git node
  git=$(command -v git) || { echo "$0: git is missing (scripts/install-deps.sh)" >&2; return 1; }
  node=$(command -v node) || { echo "$0: node is missing (scripts/install-deps.sh)" >&2; return 1; }
  mkdir -p "$rootfs/usr/bin" "$rootfs/usr/lib" "$rootfs/usr/share" "$rootfs/usr/local/bin"
  cp "$git" "$rootfs/usr/bin/git"
  cp -a /usr/lib/git-core "$rootfs/usr/lib/"
  [ ! -d /usr/share/git-core ] || cp -a /usr/share/git-core "$rootfs/usr/share/"
  cp "$(readlink -f "$node")" "$rootfs/usr/bin/node"
  # Scripts name their interpreter through env (codex: #!/usr/bin/env node).
  ln -sf /bin/busybox "$rootfs/usr/bin/env"
  rootfs_libs "$rootfs" "$rootfs/usr/bin/git" "$rootfs/usr/bin/node" \
    $(find "$rootfs/usr/lib/git-core" -type f -perm -u+x)
  for tool in claude-code:claude codex:codex; do
    binary=${tool#*:}
    tool=${tool%%:*}
    if ! cmp -s "$prefix/$tool/package-lock.json" "$root/templates/tools/$tool/package-lock.json"; then
      echo "$0: $prefix/$tool is not installed from this tree's lockfile (scripts/install-deps.sh)" >&2
      return 1
    fi
    mkdir -p "$rootfs$prefix"
    cp -a "$prefix/$tool" "$rootfs$prefix/"
    ln -s "$(readlink -f "$prefix/$tool/node_modules/.bin/$binary")" "$rootfs/usr/local/bin/$binary"
    rootfs_libs "$rootfs" "$(readlink -f "$prefix/$tool/node_modules/.bin/$binary")"
  done
}
