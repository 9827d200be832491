#!/usr/bin/env bash
# Builds a Debian 12 worker image the way users run workers: mmdebstrap (debootstrap's faster
# successor, resolving dependencies with apt) with systemd,
# cloud-init, the Debian kernel and the shared libraries the agent needs, but not the agent:
# cloud-init installs it (templates/cloud-init/agent.yaml, with agent_url and agent_sha256).
#   ./scripts/build-debian-image.sh OUT_DIR [MIRROR]
# Writes OUT_DIR/base.qcow2 (ext4 root on the whole disk), OUT_DIR/vmlinuz, OUT_DIR/initrd.img
# (boot with root=/dev/vda). An image already in OUT_DIR built by this same script is kept (the
# tests cache it between runs). Needs root, mmdebstrap and network access to the mirror.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
OUT=${1:?usage: $0 OUT_DIR [MIRROR]}
MIRROR=${2:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
AGENT="$BUILD_DIR/bin/autovibe-agent"
for tool in mmdebstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$AGENT" ] || { echo "$0: $AGENT is missing; build first" >&2; exit 1; }

# The packages of the libraries the agent links (it is fetched by cloud-init, they are not).
libs=$(ldd "$AGENT" | awk '/=> \// {print $3}' | while read -r lib; do
  dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, -)
packages="systemd,systemd-sysv,udev,dbus,cloud-init,curl,ca-certificates,linux-image-amd64,iproute2,isc-dhcp-client,ifupdown,netbase,e2fsprogs,git,bubblewrap,$libs"
stamp=$(printf '%s\n%s\n' "$packages" "$(sha256sum "$0" | cut -d' ' -f1)" | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ] && [ -f "$OUT/base.qcow2" ]; then
  echo "build-debian-image: $OUT is up to date"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mmdebstrap --variant=apt --include="$packages" bookworm "$root" "$MIRROR" >"$work/mmdebstrap.log" 2>&1 ||
  { tail -n 20 "$work/mmdebstrap.log" >&2; exit 1; }
echo "/dev/vda / ext4 defaults,discard 0 1" > "$root/etc/fstab"
echo "autovibe-worker" > "$root/etc/hostname"
# Only the NoCloud seed: no probing of cloud metadata services that are not there.
# No locales package and no ssh server in this image: cloud-init leaves both alone.
cat > "$root/etc/cloud/cloud.cfg.d/90-autovibe.cfg" <<'CFG'
datasource_list: [NoCloud, None]
locale: false
ssh_genkeytypes: []
ssh_deletekeys: false
CFG
rm -rf "$root/var/lib/apt/lists"/* "$root/var/cache/apt"/*.bin "$root/var/cache/apt/archives"/*.deb
mkdir -p "$OUT"
cp "$root"/boot/vmlinuz-* "$OUT/vmlinuz"
cp "$root"/boot/initrd.img-* "$OUT/initrd.img"
truncate -s 4G "$work/disk.raw"
mkfs.ext4 -q -F -L autovibe-root -d "$root" "$work/disk.raw"
qemu-img convert -O qcow2 "$work/disk.raw" "$OUT/base.qcow2"
echo "$stamp" > "$OUT/stamp"
echo "build-debian-image: $OUT: base.qcow2 ($(du -h "$OUT/base.qcow2" | cut -f1)), kernel $(ls "$root"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||')"
