#!/usr/bin/env bash
# Starts a local autovibe fleet: nats-server (JetStream), the controller (SQLite) and two
# agents, all on loopback, with their state and logs under .run/ (or $AUTOVIBE_RUN_DIR).
#   ./scripts/quickstart.sh          install, build, start (restarts a running fleet)
#   ./scripts/quickstart.sh --stop   stop the fleet
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)  # physical, to compare with /proc/PID/exe
RUN=${AUTOVIBE_RUN_DIR:-$REPO/.run}
BIN=$REPO/build/bin

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# True if PID runs the program we started under that name: a pid file left from before a
# reboot may name an unrelated process by now, and this script often runs as root.
ours() { # name, pid
  local exe
  exe=$(readlink "/proc/$2/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}  # a rebuild replaced the binary while it ran
  case "$1" in
    nats) [ "$(basename "$exe")" = nats-server ] ;;
    controller) [ "$exe" = "$BIN/autovibe-controller" ] ;;
    *) [ "$exe" = "$BIN/autovibe-agent" ] ;;
  esac
}

stop_fleet() {
  local stopped=0
  # Agents first, then the controller, then the bus they talk over.
  for name in agent-2 agent-1 controller nats; do
    local pidfile=$RUN/pids/$name.pid
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    if ours "$name" "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      stopped=$((stopped + 1))
    fi
    rm -f "$pidfile"
  done
  echo "stopped $stopped process(es)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

start() { # name, command...
  local name=$1; shift
  setsid "$@" >>"$RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/pids/$name.pid"
}

wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "quickstart: $what did not happen within ${secs}s; logs are in $RUN/logs" >&2
      exit 1
    fi
    sleep 0.2
  done
}

if [ "${1:-}" = "--stop" ]; then
  stop_fleet
  exit 0
fi

say "Installing Debian packages (skipped when present)"
./scripts/install-deps.sh

say "Building"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target autovibe-controller autovibe-agent autovibe

mkdir -p "$RUN/pids" "$RUN/logs"
stop_fleet >/dev/null

NATS_PORT=$(free_port)
if port_free 8080; then API_PORT=8080; else API_PORT=$(free_port); fi
NATS_URL=nats://127.0.0.1:$NATS_PORT
API_URL=http://127.0.0.1:$API_PORT

cat > "$RUN/nats.conf" <<CONF
listen: 127.0.0.1:$NATS_PORT
jetstream { store_dir: "$RUN/nats" }
CONF

say "Starting nats-server on $NATS_URL"
start nats nats-server -c "$RUN/nats.conf"
wait_for "nats-server start" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT"

say "Starting the controller on $API_URL"
start controller "$BIN/autovibe-controller" --data-dir "$RUN/controller" --nats "$NATS_URL" \
  --listen "127.0.0.1:$API_PORT"
wait_for "controller start" 15 curl -sf "$API_URL/healthz"

say "Starting two agents"
for i in 1 2; do
  start "agent-$i" "$BIN/autovibe-agent" --name "agent-$i" --data-dir "$RUN/agent-$i" \
    --nats "$NATS_URL" --label pool=local --label "slot=$i"
done

cat > "$RUN/env.sh" <<ENV
# source this file to point the autovibe CLI at the quickstart fleet
export AUTOVIBE_CONTROLLER=$API_URL
export AUTOVIBE_TOKEN_FILE=$RUN/controller/admin.token
export PATH=$BIN:\$PATH
ENV
export AUTOVIBE_CONTROLLER=$API_URL AUTOVIBE_TOKEN_FILE=$RUN/controller/admin.token

ready_count() {
  "$BIN/autovibe" --json machines list | python3 -c \
    'import json,sys; print(sum(m["state"] == "ready" for m in json.load(sys.stdin)["machines"]))'
}
wait_for "two ready machines" 30 bash -c "[ \"\$($(declare -f ready_count); BIN=$BIN ready_count)\" -ge 2 ]"

say "Your fleet"
"$BIN/autovibe" machines list

echo
echo "The fleet is running (state and logs in $RUN)."
hint() { printf '  %-44s # %s\n' "$1" "$2"; }
hint "source $RUN/env.sh" "CLI on PATH, pointed at this controller"
hint "autovibe machines list" "the table above; add --json for scripts"
hint "autovibe machines show MACHINE_ID" "one machine in detail"
hint "curl $API_URL/metrics" "Prometheus metrics"
hint "tail -f $RUN/logs/*.log" "what the daemons say"
hint "./scripts/quickstart.sh --stop" "stop the fleet"
