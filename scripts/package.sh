#!/usr/bin/env bash
# Builds the Debian packages of autovibe (CPack, cmake/AvPackage.cmake) from the build tree, the
# same RelWithDebInfo build the quickstart and the tests use (the packages' programs are
# stripped), and checks them with lintian where it is installed:
#   ./scripts/package.sh [--no-lintian] [--out DIR]
# Writes autovibe-agent_VERSION_ARCH.deb, autovibe-controller_... and autovibe_... (the
# command-line client) into DIR (default build/packages), and prints their paths. BUILD_DIR picks
# the build tree.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
LINTIAN=1
out="$BUILD_DIR/packages"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-lintian) LINTIAN=0; shift ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--no-lintian] [--out DIR]" >&2; exit 2 ;;
  esac
done
for tool in help2man dpkg-shlibdeps; do
  command -v "$tool" >/dev/null ||
    { echo "package: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" --target autovibe-agent autovibe-controller autovibe package_files

mkdir -p "$out"
rm -f "$out"/*.deb
# Files keep the build's umask-independent modes (CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION
# covers the control files; the data files' modes come from the install rules).
(cd "$BUILD_DIR" && umask 022 && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || {
  cat "$out/cpack.log" >&2
  exit 1
}
rm -rf "$out/_CPack_Packages"
debs=("$out"/*.deb)
[ -e "${debs[0]}" ] || { echo "package: cpack made no .deb; see $out/cpack.log" >&2; exit 1; }

if [ "$LINTIAN" = 1 ]; then
  if command -v lintian >/dev/null; then
    # Errors and warnings fail the build; overrides (packaging/deb/*.lintian-overrides) say why
    # each one left is right.
    lintian --fail-on error,warning --info "${debs[@]}"
  else
    echo "package: lintian is not installed: the packages are unchecked" >&2
  fi
fi
for deb in "${debs[@]}"; do
  echo "$deb ($(du -h "$deb" | cut -f1))"
done
