#!/usr/bin/env bash
# fuzz.sh with two lines of a real libFuzzer target (clang 14): when one line finds a crash,
# the other stops too (libFuzzer's -stop_file), the run fails, and the JSON line names the
# crash input. Without the stop, the other line would fuzz on with no limit, so the deadline
# below is what fails the test.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
command -v clang++-14 >/dev/null || { echo "clang++-14 is missing (./scripts/install-deps.sh)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/build/bin" "$dir/crashes"
touch "$dir/build/build.ninja" "$dir/claim"
# Each process counts its inputs; the first to reach 20,000 claims the file and crashes.
cat >"$dir/t.cc" <<CC
#include <cstdint>
#include <cstdio>
#include <cstdlib>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) {
  static long n = 0;
  if (++n == 20000 && rename("$dir/claim", "$dir/claimed") == 0) abort();
  return 0;
}
CC
clang++-14 -fsanitize=fuzzer -O1 "$dir/t.cc" -o "$dir/build/bin/fuzz_api_json"

set +e
out=$(FUZZ_JOBS=2 AV_FUZZ_BUILD="$dir/build" AV_FUZZ_CRASHES="$dir/crashes" AV_FUZZ_NO_BUILD=1 \
  timeout 120 "$root/scripts/fuzz.sh" api_json 0 2>"$dir/err")
rc=$?
set -e
echo "$out"
cat "$dir/err"
fail() { echo "FAILED: $*"; exit 1; }
[ "$rc" -ne 124 ] || fail "the other line did not stop (fuzz.sh ran until the 120 s deadline)"
[ "$rc" -ne 0 ] || fail "fuzz.sh exited 0 after a crash"
[ -e "$dir/claimed" ] || fail "no line crashed"
[[ "$out" == *'"result":"failed"'* ]] || fail "the JSON line does not say failed"
[[ "$out" == *'"processes":2'* ]] || fail "expected one process per line"
artifact=$(find "$dir/crashes" -name "api_json-crash-*" | head -1)
[ -n "$artifact" ] || fail "no crash input saved"
[[ "$out" == *"\"artifact\":\"$artifact\""* ]] || fail "the JSON line does not name $artifact"

echo "ok: one line crashed, the other stopped, the crash input is named"
