#!/usr/bin/env bash
# Builds autovibe and runs every test through ctest. Exits non-zero on any failure.
#   ./scripts/test.sh            all tests
#   ./scripts/test.sh -R unit    only tests whose name matches (extra args go to ctest)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; then
  ./scripts/install-deps.sh
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

# Integration tests start their own nats-server, controller and agents on free loopback
# ports; they are marked RUN_SERIAL so they do not fight the unit tests for the two cores.
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 300 "$@"
