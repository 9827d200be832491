#!/usr/bin/env bash
# Starts a local autovibe fleet: nats-server (JetStream, authorization on), the controller
# (SQLite) and a pool of local machines the controller spawns itself (an agent process each,
# with its own bus user), all on loopback, with their state and logs under .run/ (or
# $AUTOVIBE_RUN_DIR).
#   ./scripts/quickstart.sh          install, build, start afresh (stops a running fleet)
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
  # The controller first (so it does not replace the machines that go), then the agents it
  # spawned (each runs with --config $RUN/machines/NAME/agent.toml), then the bus.
  stop_pidfile controller && stopped=$((stopped + 1))
  local pids
  pids=$(pgrep -f -- "--config $RUN/machines/" || true)
  for pid in $pids; do
    ours agent "$pid" || continue
    kill -TERM "$pid" 2>/dev/null && stopped=$((stopped + 1))
  done
  for pid in $pids; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && ours agent "$pid" && kill -KILL "$pid"
  done
  # Agents an older quickstart started itself.
  for name in agent-2 agent-1 nats; do
    stop_pidfile "$name" && stopped=$((stopped + 1))
  done
  echo "stopped $stopped process(es)"
}

stop_pidfile() { # name; true if it stopped a process
  local name=$1 pidfile=$RUN/pids/$1.pid pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  ours "$name" "$pid" || return 1
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  return 0
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
# Every run starts afresh: the demo project's budget and tasks from a run before would
# otherwise still be there.
rm -rf "$RUN/nats" "$RUN/controller" "$RUN"/agent-* "$RUN/machines" "$RUN/git" "$RUN/calc-clone"

NATS_PORT=$(free_port)
if port_free 8080; then API_PORT=8080; else API_PORT=$(free_port); fi
NATS_URL=tls://127.0.0.1:$NATS_PORT
API_URL=https://127.0.0.1:$API_PORT
# The API serves https from its first start, with a self-signed certificate the controller
# makes in its data dir (kept 0600 and reused); the CLI trusts exactly that certificate by its
# SHA-256 fingerprint (AUTOVIBE_PIN).
API_CERT=$RUN/controller/tls-cert.pem

# The bus runs with authorization on: the controller has its own user, and writes a user
# for every machine it spawns into nats-users.conf (allowed only that machine's subjects),
# then tells nats-server to reload it.
NATS_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > "$RUN/nats-users.conf" <<CONF
authorization { users = [ {user: "controller", password: "$NATS_PASSWORD"} ] }
CONF
chmod 600 "$RUN/nats-users.conf"
# The bus speaks TLS only. A CA of this quickstart's own, made at the first start and kept in
# $RUN/tls (keys 0600), signs nats-server's certificate; the controller and the agents it
# spawns verify the bus with the CA (nats_ca).
TLS=$RUN/tls
mkdir -p "$TLS" && chmod 700 "$TLS"
if [ ! -s "$TLS/nats-ca.pem" ]; then
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=autovibe quickstart bus CA" -keyout "$TLS/nats-ca.key" -out "$TLS/nats-ca.pem" 2>/dev/null)
  rm -f "$TLS/nats-server.pem"
fi
if ! openssl x509 -checkend 86400 -noout -in "$TLS/nats-server.pem" >/dev/null 2>&1; then
  (umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$TLS/nats-server.key" -out "$TLS/nats-server.csr" 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$TLS/nats-server.ext" &&
    openssl x509 -req -in "$TLS/nats-server.csr" -CA "$TLS/nats-ca.pem" -CAkey "$TLS/nats-ca.key" \
      -CAcreateserial -days 825 -extfile "$TLS/nats-server.ext" -out "$TLS/nats-server.pem" 2>/dev/null)
fi
chmod 644 "$TLS/nats-ca.pem" "$TLS/nats-server.pem"
chmod 600 "$TLS/nats-ca.key" "$TLS/nats-server.key"
cat > "$RUN/nats.conf" <<CONF
listen: 127.0.0.1:$NATS_PORT
tls { cert_file: "$TLS/nats-server.pem", key_file: "$TLS/nats-server.key", timeout: 2 }
jetstream { store_dir: "$RUN/nats" }
pid_file: "$RUN/pids/nats-server.pid"
include "nats-users.conf"
CONF

say "Starting nats-server on $NATS_URL (TLS; its CA: $TLS/nats-ca.pem)"
start nats nats-server -c "$RUN/nats.conf"
wait_for "nats-server start" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT"

# Every LLM call a task makes goes through its agent's metering proxy. With ANTHROPIC_API_KEY
# in the environment the proxy forwards to the real API (and the key stays in the agent);
# without it the proxy's mock upstream answers with a canned reply and priced usage, so the
# demo spends nothing.
if [ -n "${ANTHROPIC_API_KEY:-}" ]; then
  UPSTREAM=https://api.anthropic.com
  UPSTREAM_WHAT="the real Anthropic API (ANTHROPIC_API_KEY is set)"
else
  UPSTREAM=mock
  UPSTREAM_WHAT="the proxy's mock upstream (set ANTHROPIC_API_KEY to use the real API)"
fi

# The controller provisions its own machines: a pool of local agent processes that never
# shrinks below two.
cat > "$RUN/controller.toml" <<CONF
nats_user = "controller"
nats_password = "$NATS_PASSWORD"
nats_auth_file = "$RUN/nats-users.conf"
# The bus's CA: the controller verifies nats-server with it and gives it to the agents it spawns.
nats_ca = "$TLS/nats-ca.pem"
nats_pid_file = "$RUN/pids/nats-server.pid"
# Tasks may name repositories on this machine only under here (the demo's).
repo_local_roots = ["$RUN/git"]

[[pool]]
name = "local"
backend = "local"
min = 2
max = 4
idle_timeout = "30m"
labels = { pool = "local" }
[pool.local]
machines_dir = "$RUN/machines"
[pool.agent]
upstreams = { anthropic = "$UPSTREAM", openai = "mock" }
CONF
chmod 600 "$RUN/controller.toml"

say "Starting the controller on $API_URL"
start controller "$BIN/autovibe-controller" --config "$RUN/controller.toml" \
  --data-dir "$RUN/controller" --nats "$NATS_URL" --listen "127.0.0.1:$API_PORT"
wait_for "controller start" 15 curl -sf --cacert "$API_CERT" "$API_URL/healthz"
API_PIN=$(openssl x509 -in "$API_CERT" -noout -fingerprint -sha256 | cut -d= -f2)
echo "The API's certificate: $API_CERT (self-signed), SHA-256 $API_PIN"

say "The controller spawns two local machines (pool \"local\", min 2)"
cat > "$RUN/env.sh" <<ENV
# source this file to point the autovibe CLI at the quickstart fleet
export AUTOVIBE_CONTROLLER=$API_URL
export AUTOVIBE_TOKEN_FILE=$RUN/controller/admin.token
# The CLI talks to the controller only if its certificate has this SHA-256 fingerprint
# (or, instead: export AUTOVIBE_CA=$API_CERT).
export AUTOVIBE_PIN=$API_PIN
export PATH=$BIN:\$PATH
ENV
export AUTOVIBE_CONTROLLER=$API_URL AUTOVIBE_TOKEN_FILE=$RUN/controller/admin.token
export AUTOVIBE_PIN=$API_PIN

ready_count() {
  "$BIN/autovibe" --json machines list | python3 -c \
    'import json,sys; print(sum(m["state"] == "ready" for m in json.load(sys.stdin)["machines"]))'
}
wait_for "two ready machines" 30 bash -c "[ \"\$($(declare -f ready_count); BIN=$BIN ready_count)\" -ge 2 ]"

say "Your fleet"
"$BIN/autovibe" machines list

say "Creating project demo with a hard budget of \$1.00"
"$BIN/autovibe" project show demo >/dev/null 2>&1 || "$BIN/autovibe" project create demo
"$BIN/autovibe" budget set demo --usd 1.00 --alert-at 75,90 --on-exhaust pause

# The demo is only a demo if it worked: a task that did not succeed stops the quickstart.
check_succeeded() {
  local state
  state=$("$BIN/autovibe" --json task show "$1" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["state"])')
  if [ "$state" != succeeded ]; then
    echo "quickstart: task $1 ended $state (logs: $RUN/logs)" >&2
    exit 1
  fi
}

say "Running a shell task and waiting for it"
SHELL_TASK=$("$BIN/autovibe" task submit --project demo --tool shell -- \
  sh -c 'echo "hello from $AUTOVIBE_TASK_ID on $(hostname)" | tee hello.txt; ls -la; echo done')
timeout 120 "$BIN/autovibe" task logs "$SHELL_TASK" -f || true
"$BIN/autovibe" task show "$SHELL_TASK"
check_succeeded "$SHELL_TASK"

if "$BIN/autovibe" --json machines list | grep -q '"claude-code"'; then
  say "Running Claude Code through the metering proxy ($UPSTREAM_WHAT)"
  # On its default model: each call is reserved at its worst case, and a call whose output
  # limit ($0.80 or more at Opus prices) the $1.00 budget cannot cover goes with the limit it can.
  CLAUDE_TASK=$("$BIN/autovibe" task submit --project demo --tool claude-code --max-turns 5 \
    --prompt "Create HELLO.md with a greeting.")
  (timeout 180 "$BIN/autovibe" task logs "$CLAUDE_TASK" -f || true) | tail -n 3
  "$BIN/autovibe" task show "$CLAUDE_TASK"
  check_succeeded "$CLAUDE_TASK"
  CLAUDE_MACHINE=$("$BIN/autovibe" --json task show "$CLAUDE_TASK" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["machine_name"])')
  echo "Its workspace: $RUN/machines/$CLAUDE_MACHINE/data/workspaces/$CLAUDE_TASK"
else
  echo "(claude not found on PATH: skipping the Claude Code demo; ./scripts/install-deps.sh installs it)"
fi

say "Workspace checkpoints (taken after LLM responses, at task end, on demand)"
wait_for "checkpoint recorded" 10 bash -c "\"$BIN/autovibe\" --json checkpoint list --task $SHELL_TASK | grep -q '\"cp-'"
"$BIN/autovibe" checkpoint list
CP=$("$BIN/autovibe" --json checkpoint list --task "$SHELL_TASK" | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["checkpoints"][-1]["id"])')
say "A new task starting from checkpoint $CP (its files reach the task's machine first)"
FROM_TASK=$("$BIN/autovibe" task submit --project demo --tool shell --from-checkpoint "$CP" -- \
  sh -c 'echo "this workspace holds:"; cat hello.txt')
timeout 60 "$BIN/autovibe" task logs "$FROM_TASK" -f || true
check_succeeded "$FROM_TASK"

say "The git workflow: a repository in, a reviewed branch out"
# A small repository whose test fails, as a team's would be on its git server.
mkdir -p "$RUN/git"
(
  set -e
  work=$(mktemp -d)
  cd "$work"
  git init -q -b main .
  printf 'add() { echo $(($1 - $2)); }\n' > calc.sh
  printf '. ./calc.sh\n[ "$(add 2 3)" = 5 ] && echo PASS || { echo "FAIL: add 2 3 = $(add 2 3)"; exit 1; }\n' > test.sh
  git add . && git -c user.name=Demo -c user.email=demo@example.org commit -qm "calc, with a failing test"
  git clone -q --bare . "$RUN/git/calc.git"
  rm -rf "$work"
)
echo "Repository $RUN/git/calc.git: sh test.sh fails (add subtracts)."
"$BIN/autovibe" project show calc >/dev/null 2>&1 ||
  "$BIN/autovibe" project create calc --repo "$RUN/git/calc.git" --ref main --publish push --review
"$BIN/autovibe" budget set calc --usd 1.00
# The task works on a checkout of main; its change comes back as a branch that waits for review.
FIX_TASK=$("$BIN/autovibe" task submit --project calc --tool shell --title "Fix add()" -- \
  sh -c "sed -i 's/\$1 - \$2/\$1 + \$2/' calc.sh && sh test.sh")
wait_for "task $FIX_TASK awaiting review" 60 bash -c "\"$BIN/autovibe\" --json task show $FIX_TASK | grep -q '\"state\": *\"awaiting_review\"'"
"$BIN/autovibe" task show "$FIX_TASK"
wait_for "its change kept by the controller" 30 bash -c "\"$BIN/autovibe\" --json task show $FIX_TASK | grep -q '\"stored\": *true'"
say "Its diff (autovibe task diff $FIX_TASK)"
"$BIN/autovibe" task diff "$FIX_TASK"
say "Approving it: the branch is pushed to the repository"
"$BIN/autovibe" task approve "$FIX_TASK"
wait_for "branch pushed" 60 bash -c "\"$BIN/autovibe\" --json task show $FIX_TASK | grep -q '\"published\": *\"pushed\"'"
git --git-dir="$RUN/git/calc.git" log --oneline -2 "autovibe/$FIX_TASK"
say "Fetching it into a fresh clone, where the test now passes"
git clone -q "$RUN/git/calc.git" "$RUN/calc-clone"
(cd "$RUN/calc-clone" && "$BIN/autovibe" task fetch "$FIX_TASK" &&
  git checkout -q "autovibe/$FIX_TASK" && sh test.sh)

say "Tasks"
"$BIN/autovibe" task list

# Usage records reach the controller through JetStream; give the last ones a moment.
wait_for "usage recorded" 10 bash -c "\"$BIN/autovibe\" --json usage --project demo | grep -q '\"calls\": *[1-9]'"
say "What project demo spent, by model (every call metered at the proxy)"
"$BIN/autovibe" usage --project demo --by model
say "Its budget"
"$BIN/autovibe" budget show demo

echo
echo "The fleet is running (state and logs in $RUN)."
echo "Its API serves https at $API_URL with a self-signed certificate, SHA-256"
echo "  $API_PIN"
echo "The CLI verifies it: AUTOVIBE_PIN=$API_PIN (env.sh sets it), or --pin,"
echo "or AUTOVIBE_CA=$API_CERT (--ca); a mismatch is refused."
echo "The dashboard: $API_URL/ (accept the self-signed certificate above in the browser),"
echo "  sign in with the admin token: $(cat "$RUN/controller/admin.token")"
hint() { printf '  %-44s # %s\n' "$1" "$2"; }
hint "source $RUN/env.sh" "CLI on PATH, pointed at this controller"
hint "autovibe machines list" "the table above; add --json for scripts"
hint "autovibe machines show MACHINE_ID" "one machine in detail"
hint "autovibe machines spawn --wait" "one more machine in the pool (max 4)"
hint "autovibe machines drain MACHINE_ID" "no new tasks; retired once its tasks end"
hint "autovibe machines terminate MACHINE_ID" "stop it now (its tasks go back to the queue)"
hint "autovibe machines pools" "the pools the controller grows and shrinks"
hint "autovibe machines join-token create" "a one-time token: autovibe-agent --join-token T joins by hand"
hint "autovibe task submit --project demo --tool shell --wait -- make test" "run a command on the fleet"
hint "autovibe task submit --project demo --tool claude-code --prompt '...' --wait" "run Claude Code"
hint "autovibe task logs TASK_ID -f" "follow a task's output live"
hint "autovibe task submit --project calc --tool claude-code --prompt 'make test.sh pass' --wait" "a coding task on the calc repository"
hint "autovibe task diff TASK_ID [--stat]" "what a repository task changed"
hint "autovibe task approve TASK_ID" "publish a reviewed change (reject: discard it)"
hint "cd CLONE && autovibe task fetch TASK_ID" "its branch into your own clone"
hint "autovibe secret set NAME --from-file F" "a repository credential (--repo-secret NAME)"
hint "autovibe task cancel TASK_ID" "stop a task (its whole process tree)"
hint "autovibe budget set demo --usd 5 --period day" "a hard daily spending cap"
hint "autovibe usage --by task" "what each task spent"
hint "autovibe project stop demo" "emergency stop: every task of the project"
hint "autovibe checkpoint list --task TASK_ID" "a task's checkpoints (a tree: each names its parent)"
hint "autovibe checkpoint diff CP1 CP2" "what changed between two checkpoints"
hint "autovibe checkpoint restore CP" "put a task's workspace back as it was (its tool is paused)"
hint "autovibe task resume TASK_ID" "let a task a restore paused go on"
hint "autovibe checkpoint branch CP [--to MACHINE]" "copy a checkpoint to another machine"
hint "curl --cacert $API_CERT $API_URL/metrics" "Prometheus metrics (over https)"
hint "tail -f $RUN/logs/*.log" "what the daemons say"
hint "./scripts/quickstart.sh --stop" "stop the fleet"
