#!/usr/bin/env bash
# Runs the benchmarks: ./scripts/bench.sh [heartbeats|agent|scheduler|meter|budget|checkpoint|spawn|isolation|repo|bus_tls|tls|dashboard]...
# (no name: all).
# Figures go to stdout as JSON lines (one object per line); progress goes to stderr.
# Extra options for one bench: HEARTBEAT_BENCH_ARGS="--steps 1000,5000",
# AGENT_BENCH_ARGS="--runs 5", SCHEDULER_BENCH_ARGS="--tasks 10000 --machines 100 --runs 1",
# METER_BENCH_ARGS="--runs 3 --scenarios single,model", BUDGET_BENCH_ARGS="--trials 50",
# CHECKPOINT_BENCH_ARGS="--runs 5 --source /usr/include", SPAWN_BENCH_ARGS="--spawns 50",
# ISOLATION_BENCH_ARGS="--runs 5 --starts 30", REPO_BENCH_ARGS="--runs 5 --files 20000" or
# BUS_TLS_BENCH_ARGS="--runs 5 --requests 5000 --messages 200000" or
# TLS_BENCH_ARGS="--runs 5 --calls 40" or DASHBOARD_BENCH_ARGS="--runs 5 --machines 1000 --tasks 10000"
# (dashboard: headless Chromium, installed by scripts/install-deps.sh).
# BUILD_DIR picks the build tree (default: build). Each bench's headline figures are then
# compared with tests/bench/baseline.json: one more than 20% worse prints a REGRESSION line and
# the script exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

usage() {
  echo "usage: $0 [heartbeats|agent|scheduler|meter|budget|checkpoint|spawn|isolation|repo|bus_tls|tls|dashboard]..." >&2
  exit 2
}

benches=("$@")
if [ "${#benches[@]}" -eq 0 ]; then benches=(heartbeats agent scheduler meter budget checkpoint spawn isolation repo bus_tls tls); fi
targets=()
for b in "${benches[@]}"; do
  case "$b" in
    heartbeats) targets+=(heartbeat_bench) ;;
    agent) targets+=(agent_bench) ;;
    scheduler) targets+=(scheduler_bench) ;;
    meter) targets+=(meter_bench) ;;
    budget) targets+=(budget_bench) ;;
    checkpoint) targets+=(checkpoint_bench) ;;
    spawn) targets+=(spawn_bench) ;;
    isolation) targets+=(isolation_bench) ;;
    repo) targets+=(repo_bench) ;;
    bus_tls) targets+=(bus_tls_bench) ;;
    tls) targets+=(api_tls_bench) ;;
    dashboard) targets+=(dashboard_bench) ;;
    -h | --help) usage ;;
    *) echo "bench: unknown benchmark '$b'" >&2; usage ;;
  esac
done

for b in "${benches[@]}"; do
  if [ "$b" = agent ] && [ ! -x /usr/bin/prometheus-node-exporter ]; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "bench: installing prometheus-node-exporter (the reference host agent)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        prometheus-node-exporter >&2
    else
      echo "bench: prometheus-node-exporter is missing; run scripts/install-deps.sh" >&2
      exit 1
    fi
  fi
done

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  echo "bench: configuring $BUILD_DIR" >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >&2
fi
echo "bench: building ${targets[*]}" >&2
# The bench targets depend on the daemons they start, so those are rebuilt too.
cmake --build "$BUILD_DIR" --target "${targets[@]}" >&2

# Each bench's figures go to stdout as they come and to a file the guard then compares with
# the committed baseline (tests/bench/baseline.json): a headline figure more than 20% worse
# prints a REGRESSION line and makes this script fail.
figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
status=0
for b in "${benches[@]}"; do
  case "$b" in
    heartbeats) bin=heartbeat_bench args=${HEARTBEAT_BENCH_ARGS:-} ;;
    agent) bin=agent_bench args=${AGENT_BENCH_ARGS:-} ;;
    scheduler) bin=scheduler_bench args=${SCHEDULER_BENCH_ARGS:-} ;;
    meter) bin=meter_bench args=${METER_BENCH_ARGS:-} ;;
    budget) bin=budget_bench args=${BUDGET_BENCH_ARGS:-} ;;
    checkpoint) bin=checkpoint_bench args=${CHECKPOINT_BENCH_ARGS:-} ;;
    spawn) bin=spawn_bench args=${SPAWN_BENCH_ARGS:-} ;;
    isolation) bin=isolation_bench args=${ISOLATION_BENCH_ARGS:-} ;;
    repo) bin=repo_bench args=${REPO_BENCH_ARGS:-} ;;
    bus_tls) bin=bus_tls_bench args=${BUS_TLS_BENCH_ARGS:-} ;;
    tls) bin=api_tls_bench args=${TLS_BENCH_ARGS:-} ;;
    dashboard) bin=dashboard_bench args=${DASHBOARD_BENCH_ARGS:-} ;;
  esac
  # shellcheck disable=SC2086  # word splitting of the extra options is intended
  "$BUILD_DIR/bin/$bin" $args | tee "$figures" || status=1
  python3 "$ROOT/scripts/lib/bench_guard.py" "$ROOT/tests/bench/baseline.json" "$b" "$figures" ||
    status=1
done
exit "$status"
