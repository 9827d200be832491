#!/usr/bin/env bash
# Fuzzes autovibe's parsers and handlers with libFuzzer (README.md, "Fuzzing").
#
#   ./scripts/fuzz.sh [TARGET] [SECONDS]
#
# Builds the fuzzing configuration (clang 14, AddressSanitizer and UndefinedBehaviorSanitizer,
# in build-fuzz/) and runs TARGET (all targets in turn when none or "all" is given) for SECONDS
# of wall time each (default 60; 0: no time limit), nice'd. Each target starts from its seeds
# (tests/fuzz/corpus/<target>/) and what earlier runs found (build-fuzz/corpus/<target>/), which
# libFuzzer first runs once through; the inputs it then makes are what "execs" counts.
#   FUZZ_RUNS=N   also stops a target after N inputs made (whichever comes first).
#   FUZZ_CHUNK=N  a fresh process every N inputs, from the corpus so far: the targets that keep
#                 a controller's or an agent's state across inputs slow down as their store
#                 fills, and a long campaign would spend its time on a store no real one reaches.
#   FUZZ_JOBS=N   N lines of processes at once over the same corpus (one per core), FUZZ_RUNS
#                 shared out; their logs are build-fuzz/fuzz-<target>-<line>.log (else
#                 build-fuzz/fuzz-<target>.log). A finding in one line stops the others.
# One JSON line per target on stdout: inputs made ("execs", over all processes) and their rate,
# corpus inputs run through at each process's start ("replayed"), lines ("jobs") and processes,
# coverage (libFuzzer's cov: edges and ft: features), the corpus and the result.
# A crash, leak, timeout or sanitizer report stops the target; its input is saved under
# tests/fuzz/crashes/ and named on stderr. Once fixed, add the (minimized) input to the
# target's corpus so ctest replays it.
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

for var in FUZZ_RUNS FUZZ_CHUNK FUZZ_JOBS; do
  if [ -n "${!var:-}" ] && ! [[ "${!var}" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: $var must be a whole number above 0, not '${!var}'" >&2
    exit 2
  fi
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz.sh: SECONDS must be a whole number (0: no limit), not '$seconds'" >&2
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

# AV_FUZZ_CRASHES: where findings go (tests of this script keep them out of the tree).
crashes="${AV_FUZZ_CRASHES:-$root/tests/fuzz/crashes}"
mkdir -p "$crashes"

# One line of processes for target $1, writing its libFuzzer output to $2 and, when done,
# "<inputs fuzzed> <corpus inputs replayed> <processes> <exit status>" to $2.result: a fresh
# process every FUZZ_CHUNK fuzzed inputs (see the file comment) until $3 of them (none: no
# count) or SECONDS are used, or another line stops (the stop file).
fuzz_line() {
  local t=$1 log=$2 want=$3 execs=0 replayed=0 chunks=0 rc=0 runs left done_now inited corpus
  local limit
  : >"$log"
  while [ ! -e "$stop" ]; do
    limit=()
    if [ "$seconds" -gt 0 ]; then
      left=$((seconds - (SECONDS - started)))
      [ "$left" -gt 0 ] || break
      limit+=("-max_total_time=$left")
    fi
    runs=""
    if [ -n "$want" ]; then
      runs=$((want - execs))
      [ "$runs" -gt 0 ] || break
    fi
    if [ -n "${FUZZ_CHUNK:-}" ] && { [ -z "$runs" ] || [ "$runs" -gt "$FUZZ_CHUNK" ]; }; then
      runs=$FUZZ_CHUNK
    fi
    # libFuzzer's -runs counts its first pass over the corpus (and one empty input) too: that
    # pass comes on top. (Another line may shrink the corpus meanwhile: then the next chunk
    # makes up what this one fell short by.)
    if [ -n "$runs" ]; then
      corpus=$(find "$work" "$root/tests/fuzz/corpus/$t" -type f | wc -l)
      limit+=("-runs=$((corpus + 1 + runs))")
    fi
    chunks=$((chunks + 1))
    # New inputs go to the first directory (build-fuzz/corpus/<target>), not to the seeds.
    set +e
    nice -n 10 "$build/bin/fuzz_$t" "$work" "$root/tests/fuzz/corpus/$t" "${limit[@]}" \
      -timeout=30 -rss_limit_mb=4096 -max_len=$max_len -detect_leaks=$leaks -print_final_stats=1 \
      -stop_file="$stop" -artifact_prefix="$crashes/$t-" >"$log.part" 2>&1
    rc=$?
    set -e
    cat "$log.part" >>"$log"
    done_now=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.part" | tail -1)
    inited=$(sed -n 's/^#\([0-9]*\)[[:space:]]*INITED.*/\1/p' "$log.part" | head -1)
    done_now=${done_now:-0} inited=${inited:-0}
    if [ "$inited" -gt "$done_now" ]; then inited=$done_now; fi
    replayed=$((replayed + inited)) execs=$((execs + done_now - inited))
    if [ "$rc" -ne 0 ]; then
      # A finding: the other lines stop too. libFuzzer's -stop_file only stops on a file that
      # holds something (it reads a byte); an empty one is not noticed.
      echo stop >"$stop"
      break
    fi
    # One process unless in chunks; a chunk that made nothing (the stop file) ends the line.
    # Time and count are checked above.
    if [ -z "${FUZZ_CHUNK:-}" ] || [ "$done_now" -le "$inited" ]; then break; fi
  done
  rm -f "$log.part"
  echo "$execs $replayed $chunks $rc" >"$log.result"
}

status=0
jobs="${FUZZ_JOBS:-1}"
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
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
  # FUZZ_JOBS=N: N lines of processes at once over the same corpus (each picks up what the
  # others add), FUZZ_RUNS shared out between them; the figures add up.
  started=$SECONDS
  stop="$build/fuzz-$t.stop"
  rm -f "$stop"
  logs=()
  for ((j = 1; j <= jobs; j++)); do
    if [ "$jobs" -eq 1 ]; then log="$build/fuzz-$t.log"; else log="$build/fuzz-$t-$j.log"; fi
    logs+=("$log")
    rm -f "$log.result"
    want=""
    if [ -n "${FUZZ_RUNS:-}" ]; then
      want=$((FUZZ_RUNS / jobs + (j <= FUZZ_RUNS % jobs ? 1 : 0)))
    fi
    fuzz_line "$t" "$log" "$want" &
  done
  wait
  rm -f "$stop"
  execs=0 replayed=0 chunks=0 rc=0 failed_logs=()
  for log in "${logs[@]}"; do
    [ -f "$log.result" ] || echo "0 0 0 1" >"$log.result"  # the line itself broke off
    read -r e p c r <"$log.result"
    rm -f "$log.result"
    execs=$((execs + e)) replayed=$((replayed + p)) chunks=$((chunks + c))
    if [ "$r" -ne 0 ]; then
      rc=$r
      failed_logs+=("$log")
    fi
  done
  elapsed=$((SECONDS - started))
  rate=$((execs / (elapsed > 0 ? elapsed : 1)))
  cov=$(cat "${logs[@]}" | grep -ao 'cov: [0-9]*' | grep -ao '[0-9]*' | sort -n | tail -1 || true)
  ft=$(cat "${logs[@]}" | grep -ao 'ft: [0-9]*' | grep -ao '[0-9]*' | sort -n | tail -1 || true)
  files=$(find "$work" -type f | wc -l)
  bytes=$(du -sb "$work" | cut -f1)
  # The finding's input (not a slow unit's, which libFuzzer reports the same way).
  artifact=""
  if [ "${#failed_logs[@]}" -gt 0 ]; then
    artifact=$(cat "${failed_logs[@]}" | grep -ao "Test unit written to [^ ]*" |
      sed 's/Test unit written to //' | grep -E '/[a-z_]+-(crash|leak|timeout|oom)-' | tail -1 || true)
  fi
  result=ok
  if [ "$rc" -ne 0 ]; then
    result=failed
    status=1
    echo "fuzz.sh: $t failed (exit $rc); see ${logs[*]}" >&2
    if [ -n "$artifact" ]; then
      echo "fuzz.sh: the input is saved in ${artifact#"$root"/}; reproduce with" \
        "$build/bin/fuzz_$t $artifact, minimize with -minimize_crash=1, and add it to" \
        "tests/fuzz/corpus/$t/ with the fix" >&2
    fi
  fi
  printf '{"target":"%s","result":"%s","seconds":%s,"execs":%s,"execs_per_s":%s,"replayed":%s,"jobs":%s,"processes":%s,"cov":%s,"ft":%s,"corpus_files":%s,"corpus_bytes":%s,"artifact":"%s"}\n' \
    "$t" "$result" "$elapsed" "$execs" "$rate" "$replayed" "$jobs" "$chunks" "${cov:-0}" "${ft:-0}" "$files" "$bytes" \
    "${artifact#"$root"/}"
done
exit "$status"
