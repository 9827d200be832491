#!/usr/bin/env bash
# Fuzzes autovibe's parsers and handlers with libFuzzer (README.md, "Fuzzing").
#
#   ./scripts/fuzz.sh [TARGET] [SECONDS]
#
# Builds the fuzzing configuration (clang 14, AddressSanitizer and UndefinedBehaviorSanitizer,
# in build-fuzz/) and runs TARGET (all targets in turn when none or "all" is given) for SECONDS
# each (default 60), nice'd, one process at a time. FUZZ_RUNS=N also stops a target after N
# inputs (whichever comes first; SECONDS 0: no time limit). FUZZ_CHUNK=N runs a fresh process
# every N inputs, from the corpus so far: the targets that keep a controller's or an agent's
# state across inputs (its store fills with what the inputs made) slow down as it grows, and a
# long campaign then spends its time on a store no real one would reach. Each target starts
# from its seeds (tests/fuzz/corpus/<target>/) and what earlier runs found
# (build-fuzz/corpus/<target>/). One JSON line per target on stdout: executions, their
# rate, coverage (libFuzzer's cov: edges and ft: features), the corpus and the result.
# A crash, leak, timeout or sanitizer report is saved under tests/fuzz/crashes/ and named on
# stderr; once fixed, add the (minimized) input to the target's corpus so ctest replays it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${AV_FUZZ_BUILD:-$root/build-fuzz}"
target="${1:-all}"
seconds="${2:-60}"
mapfile -t all < <(sed -n 's/^AV_FUZZ_TARGET(\([a-z_]*\)).*/\1/p' "$root"/tests/fuzz/*.cc | sort)

if [ "$target" = all ]; then
  targets=("${all[@]}")
elif [[ " ${all[*]} " == *" $target "* ]]; then
  targets=("$target")
else
  echo "fuzz.sh: no target '$target'; targets: ${all[*]}" >&2
  exit 2
fi

for cc in clang-14 clang++-14; do
  command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc is missing (./scripts/install-deps.sh)" >&2; exit 1; }
done
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DAUTOVIBE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# AV_FUZZ_NO_BUILD=1: run what is built (while another build of build-fuzz is under way).
if [ -z "${AV_FUZZ_NO_BUILD:-}" ]; then
  nice cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}" >&2
fi

crashes="$root/tests/fuzz/crashes"
mkdir -p "$crashes"
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  log="$build/fuzz-$t.log"
  # Longer inputs only where a request or a stream needs them: short ones run faster.
  case "$t" in
    api_http | meter_http) max_len=65536 ;;
    config_toml | api_json) max_len=4096 ;;
    *) max_len=16384 ;;
  esac
  # The targets that keep a program's state across inputs (a store, a server) hold on to
  # memory on purpose: a leak check after each input would scan it all, every time. Theirs
  # runs once, at exit (LeakSanitizer); the others are checked after every input.
  case "$t" in
    config_toml | api_json | meter_stream) leaks=1 ;;
    *) leaks=0 ;;
  esac
  # New inputs go to the first directory (build-fuzz/corpus/<target>), not to the seeds.
  # FUZZ_CHUNK=N: a fresh process every N inputs (see the file comment); the figures add up.
  started=$SECONDS
  execs=0 chunks=0 rc=0
  : >"$log"
  while :; do
    limit=()
    if [ "$seconds" -gt 0 ]; then
      left=$((seconds - (SECONDS - started)))
      [ "$left" -gt 0 ] || break
      limit+=("-max_total_time=$left")
    fi
    runs="${FUZZ_RUNS:-}"
    if [ -n "$runs" ]; then
      runs=$((runs - execs))
      [ "$runs" -gt 0 ] || break
    fi
    if [ -n "${FUZZ_CHUNK:-}" ] && { [ -z "$runs" ] || [ "$runs" -gt "$FUZZ_CHUNK" ]; }; then
      runs=$FUZZ_CHUNK
    fi
    if [ -n "$runs" ]; then limit+=("-runs=$runs"); fi
    chunks=$((chunks + 1))
    set +e
    nice -n 10 "$build/bin/fuzz_$t" "$work" "$root/tests/fuzz/corpus/$t" "${limit[@]}" \
      -timeout=30 -rss_limit_mb=4096 -max_len=$max_len -detect_leaks=$leaks -print_final_stats=1 \
      -artifact_prefix="$crashes/$t-" >"$log.part" 2>&1
    rc=$?
    set -e
    cat "$log.part" >>"$log"
    done_now=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.part" | tail -1)
    execs=$((execs + ${done_now:-0}))
    # One process, or one that stopped (a finding, or its time up): no further chunk.
    if [ "$rc" -ne 0 ] || [ -z "${FUZZ_CHUNK:-}" ] || [ "${done_now:-0}" -lt "${runs:-0}" ]; then
      break
    fi
  done
  rm -f "$log.part"
  elapsed=$((SECONDS - started))
  rate=$((execs / (elapsed > 0 ? elapsed : 1)))
  cov=$(grep -ao 'cov: [0-9]*' "$log" | grep -ao '[0-9]*' | sort -n | tail -1 || true)
  ft=$(grep -ao 'ft: [0-9]*' "$log" | grep -ao '[0-9]*' | sort -n | tail -1 || true)
  files=$(find "$work" -type f | wc -l)
  bytes=$(du -sb "$work" | cut -f1)
  artifact=$(grep -ao "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result=failed
    status=1
    echo "fuzz.sh: $t failed (exit $rc); see $log" >&2
    if [ -n "$artifact" ]; then
      echo "fuzz.sh: the input is saved in ${artifact#"$root"/}; reproduce with" \
        "$build/bin/fuzz_$t $artifact, minimize with -minimize_crash=1, and add it to" \
        "tests/fuzz/corpus/$t/ with the fix" >&2
    fi
  fi
  printf '{"target":"%s","result":"%s","seconds":%s,"execs":%s,"execs_per_s":%s,"processes":%s,"cov":%s,"ft":%s,"corpus_files":%s,"corpus_bytes":%s,"artifact":"%s"}\n' \
    "$t" "$result" "$elapsed" "$execs" "$rate" "$chunks" "${cov:-0}" "${ft:-0}" "$files" "$bytes" \
    "${artifact#"$root"/}"
done
exit "$status"
