#!/usr/bin/env bash
# Builds the small VM image the libvirt backend can boot in about a second under KVM, out of
# this tree's agent: the Debian kernel (linux-image-amd64), an initrd holding busybox, the agent
# and the kernel modules a virtio machine needs, and a blank ext4 disk (qcow2) for the agent's
# data. Machines boot it directly (the pool's kernel and initrd), their disk an overlay on it.
#   ./scripts/build-vm-image.sh OUT_DIR [DISK_SIZE]   (default 8G; sparse)
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.img and OUT_DIR/base.qcow2. BUILD_DIR picks the
# build tree (default: build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
OUT=${1:?usage: $0 OUT_DIR [DISK_SIZE]}
SIZE=${2:-8G}
AGENT="$BUILD_DIR/bin/autovibe-agent"
# shellcheck source=lib/agent-rootfs.sh
. "$ROOT/scripts/lib/agent-rootfs.sh"

KVER=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || { echo "$0: no kernel in /boot (apt install linux-image-amd64)" >&2; exit 1; }
for tool in cpio depmod mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/root
agent_rootfs "$rootfs"
mkdir -p "$rootfs"/{proc,sys,dev,run}
ln -s bin "$rootfs/sbin"  # where the kernel runs modprobe from
install -m 755 "$ROOT/templates/vm/init" "$rootfs/init"
install -m 755 "$ROOT/templates/vm/dhcp" "$rootfs/bin/autovibe-dhcp"
# The modules of a virtio machine and what they need; busybox's modprobe reads modules.dep.
mods=/lib/modules/$KVER
for m in virtio_pci virtio_blk virtio_net virtio_rng crc32c_generic isofs ext4; do
  modprobe --set-version "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | sort -u | while read -r ko; do
  cp --parents "$ko" "$rootfs"
done
cp "$mods"/modules.order "$mods"/modules.builtin "$mods"/modules.builtin.modinfo "$rootfs$mods/"
depmod -b "$rootfs" "$KVER"

mkdir -p "$OUT"
(cd "$rootfs" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$OUT/initrd.img.tmp"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
cp "$KERNEL" "$OUT/vmlinuz"
truncate -s "$SIZE" "$work/disk.raw"
mkfs.ext4 -q -F -L autovibe "$work/disk.raw"
qemu-img convert -O qcow2 "$work/disk.raw" "$OUT/base.qcow2"
echo "build-vm-image: $OUT: vmlinuz ($KVER), initrd.img ($(du -h "$OUT/initrd.img" | cut -f1)), base.qcow2 ($SIZE ext4)"
