#!/usr/bin/env bash
# Builds the image the docker backend starts machines from, out of this tree's agent: FROM
# scratch, the agent with the shared libraries it links, busybox (busybox-static) for a shell and
# the usual commands, and the coding tools, so its machines advertise claude-code and codex: git,
# Node, and Claude Code and Codex as scripts/install-deps.sh installed them on this host (npm ci
# of templates/tools/*/package-lock.json into /usr/local/lib/autovibe-tools). No registry is
# needed: the image is imported straight into the daemon.
#   ./scripts/build-agent-image.sh [--host unix:///var/run/docker.sock] [--tag autovibe-agent:latest]
#                                  [--no-tools]
# BUILD_DIR picks the build tree (default: build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
TAG=autovibe-agent:latest
TOOLS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --no-tools) TOOLS=0; shift ;;
    *) echo "usage: $0 [--host unix:///path/docker.sock] [--tag NAME:TAG] [--no-tools]" >&2; exit 2 ;;
  esac
done

AGENT="$BUILD_DIR/bin/autovibe-agent"
# shellcheck source=lib/agent-rootfs.sh
. "$ROOT/scripts/lib/agent-rootfs.sh"

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
agent_rootfs "$rootfs"
if [ "$TOOLS" = 1 ]; then
  # shellcheck source=lib/tools-rootfs.sh
  . "$ROOT/scripts/lib/tools-rootfs.sh"
  tools_rootfs "$rootfs"
fi

tar -C "$rootfs" -c . | docker --host "$HOST" import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENTRYPOINT []' \
  --change 'CMD ["/usr/local/bin/autovibe-agent", "--config", "/etc/autovibe/agent.toml"]' \
  - "$TAG" >/dev/null
echo "build-agent-image: $TAG ($(du -sh "$rootfs" | cut -f1)) is in the daemon at $HOST"
