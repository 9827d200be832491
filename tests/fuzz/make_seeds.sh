#!/usr/bin/env bash
# Writes the hand-made seeds of tests/fuzz/corpus/ (valid inputs of each target, and a few
# hostile ones): protobuf messages from their text form with protoc --encode, the rest as
# they are. Run from anywhere; existing seeds of the same name are rewritten, inputs added
# by fuzzing (minimized finds) are left alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$here/../../common/proto"
corpus="$here/corpus"

# seed TARGET NAME PREFIX-BYTES (printf escapes) MESSAGE-TYPE <<< text-format
pb() {
  local target=$1 name=$2 prefix=$3 type=$4
  mkdir -p "$corpus/$target"
  {
    printf "$prefix"
    protoc --proto_path="$proto" --encode="autovibe.v1.$type" \
      autovibe/v1/machine.proto autovibe/v1/event.proto autovibe/v1/budget.proto \
      autovibe/v1/command.proto autovibe/v1/checkpoint.proto
  } >"$corpus/$target/$name"
}
raw() {
  local target=$1 name=$2
  mkdir -p "$corpus/$target"
  cat >"$corpus/$target/$name"
}

# --- bus_controller: [subject][sender][reply] then the message (bus_controller.cc) ----------
# subjects 0 register, 1 register.<m>, 2 hb, 3 evt, 4 lease, 5 join; senders 0 m-1, 1 m-2,
# 2 unknown (a live join token for joins), 3 a name up to '\n'; replies 0 own inbox, 1 other,
# 2 none.
pb bus_controller register '\x00\x00\x00' RegisterRequest <<'EOF'
name: "fuzz-m-1" agent_version: "0.1.0" machine_id: "m-1" tools: "shell" tools: "claude-code"
labels { key: "pool" value: "local" } resources { cpu_cores: 4 mem_total_bytes: 8000000000 }
running_task_ids: "t-1" instance_id: "i-1" task_slots: 2
EOF
pb bus_controller register-new '\x00\x03\x00' RegisterRequest <<'EOF'
name: "worker-7" agent_version: "0.1.0" tools: "shell" backend: "manual"
EOF
pb bus_controller register-as '\x01\x01\x00' RegisterRequest <<'EOF'
name: "fuzz-m-2" machine_id: "m-2" agent_version: "0.1.0" tools: "shell" last_checkpoint_ids: "cp-1"
EOF
pb bus_controller heartbeat '\x02\x00\x02' Heartbeat <<'EOF'
machine_id: "m-1" sequence: 7 running_task_ids: "t-1" sent_at_unix_ns: 1700000000000000000
resources { cpu_cores: 4 mem_total_bytes: 8000000000 mem_used_bytes: 1000 load1: 0.5 }
EOF
pb bus_controller event-started '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-1" machine_id: "m-1" task_started { task_id: "t-1" attempt: 1 pid: 42 }
EOF
pb bus_controller event-log '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-2" machine_id: "m-1" task_log { task_id: "t-1" attempt: 1 seq: 1 stream: LOG_STREAM_STDOUT data: "hello\n" }
EOF
pb bus_controller event-finished '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-3" machine_id: "m-1"
task_finished { task_id: "t-1" attempt: 1 outcome: TASK_OUTCOME_SUCCEEDED duration_ms: 1000
  report { turns: 3 reported_cost_micros: 1000 } repo { base: "a" head: "b" branch: "av/t-1" } }
EOF
pb bus_controller event-usage '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-4" machine_id: "m-1"
usage { task_id: "t-1" attempt: 1 project: "demo" lease_id: "l-1" kind: "llm" provider: "anthropic"
  model: "claude-sonnet-4-5" input_tokens: 100 output_tokens: 20 cost_micros: 600 status: "ok" }
EOF
pb bus_controller event-checkpoint '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-5" machine_id: "m-1"
checkpoint_created { attempt: 1 manifest { id: "cp-0123456789abcdef" task_id: "t-1" machine_id: "m-1"
  root: "0123456789abcdef0123456789abcdef" trigger: "auto" created_unix_ms: 1700000000000
  file_count: 2 total_bytes: 10 } }
EOF
pb bus_controller event-removed '\x03\x00\x02' AgentEvent <<'EOF'
event_id: "e-6" machine_id: "m-1" checkpoints_removed { checkpoint_ids: "cp-0123456789abcdef" }
EOF
pb bus_controller event-stopping '\x03\x01\x02' AgentEvent <<'EOF'
event_id: "e-7" machine_id: "m-2" at_unix_ns: 1700000000000000000 agent_stopping { reason: "SIGTERM" }
EOF
pb bus_controller event-forged '\x03\x01\x02' AgentEvent <<'EOF'
event_id: "e-8" machine_id: "m-1" task_finished { task_id: "t-1" attempt: 1 outcome: TASK_OUTCOME_FAILED }
EOF
pb bus_controller lease '\x04\x00\x00' LeaseRequest <<'EOF'
machine_id: "m-1" lease_id: "l-1" task_id: "t-1" attempt: 1 project: "demo"
need_total { usd_micros: 100000 tokens: 1000 api_calls: 1 } want_total { usd_micros: 1000000 tokens: 10000 api_calls: 10 }
EOF
pb bus_controller lease-close '\x04\x00\x00' LeaseRequest <<'EOF'
machine_id: "m-1" lease_id: "l-1" task_id: "t-1" attempt: 1 project: "demo" close: true
consumed { usd_micros: 600 tokens: 120 api_calls: 1 } held { id: "r-1" amounts { usd_micros: 10 } }
EOF
pb bus_controller lease-other-project '\x04\x01\x00' LeaseRequest <<'EOF'
machine_id: "m-2" lease_id: "l-2" task_id: "t-1" attempt: 1 project: "other"
need_total { usd_micros: -5 } want_total { usd_micros: 9223372036854775807 }
EOF
pb bus_controller join '\x05\x02\x00' JoinRequest <<'EOF'
name: "joined-1"
EOF
printf '\x03\x00\x02\x0a\xff\xff garbage' | raw bus_controller event-undecodable

# --- agent_command: a v1::Command (agent_command.cc) ---------------------------------------
pb agent_command checkpoint-now '' Command <<'EOF'
command_id: "c-1" checkpoint_now { task_id: "t-1" label: "seed" }
EOF
pb agent_command list '' Command <<'EOF'
command_id: "c-2" list_checkpoints {}
EOF
pb agent_command restore '' Command <<'EOF'
command_id: "c-3" restore_checkpoint { checkpoint_id: "cp-0123456789ab" task_id: "t-1" }
EOF
pb agent_command restore-escape '' Command <<'EOF'
command_id: "c-4" restore_checkpoint { checkpoint_id: "cp-0123456789ab" task_id: "../../etc" }
EOF
pb agent_command diff '' Command <<'EOF'
command_id: "c-5" diff_checkpoints { from: "cp-0123456789ab" to: "cp-0123456789ab" }
EOF
pb agent_command delete '' Command <<'EOF'
command_id: "c-6" delete_checkpoint { checkpoint_id: "cp-0123456789ab" }
EOF
pb agent_command list-objects '' Command <<'EOF'
command_id: "c-7" list_objects { checkpoint_id: "cp-0123456789ab" offset: 0 limit: 100 }
EOF
pb agent_command missing '' Command <<'EOF'
command_id: "c-8" missing_objects { hashes: "0123456789abcdef0123456789abcdef" hashes: "short" }
EOF
pb agent_command fetch-objects '' Command <<'EOF'
command_id: "c-9" fetch_objects { hashes: "0123456789abcdef0123456789abcdef" offset: 0 max_bytes: 65536 }
EOF
pb agent_command put-objects '' Command <<'EOF'
command_id: "c-10" put_objects { parts { hash: "0123456789abcdef0123456789abcdef" offset: 0 total: 5 data: "hello" } }
EOF
pb agent_command import '' Command <<'EOF'
command_id: "c-11" import_checkpoint { manifest { id: "cp-1111111111111111" root: "0123456789abcdef0123456789abcdef" trigger: "import" } }
EOF
pb agent_command verify '' Command <<'EOF'
command_id: "c-12" verify_checkpoint { checkpoint_id: "cp-0123456789ab" }
EOF
pb agent_command pin '' Command <<'EOF'
command_id: "c-13" pin_checkpoints { checkpoint_ids: "cp-0123456789ab" }
EOF
pb agent_command fetch-result '' Command <<'EOF'
command_id: "c-14" fetch_result { task_id: "t-1" what: "diff" offset: 0 max_bytes: 1024 }
EOF
pb agent_command put-result '' Command <<'EOF'
command_id: "c-15" put_result { task_id: "t-1" offset: 0 data: "bundle" total: 6 }
EOF
pb agent_command cancel '' Command <<'EOF'
command_id: "c-16" cancel_task { task_id: "t-1" reason: "user" delay_ms: 10 }
EOF
pb agent_command export '' Command <<'EOF'
command_id: "c-17" export_archive { checkpoint_id: "cp-0123456789ab" export_id: "x-1" offset: 0 max_bytes: 65536 }
EOF

# --- snapshot_checkpoint: [len][manifest]([len][object])... (snapshot_checkpoint.cc) -------
# Made by a helper in Python: lengths are two bytes, big-endian.
python3 - "$corpus/snapshot_checkpoint" "$proto" <<'EOF'
import os, subprocess, sys
out, proto = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
def enc(kind, text):
    return subprocess.run(["protoc", "--proto_path=" + proto, "--encode=autovibe.v1." + kind,
                           "autovibe/v1/checkpoint.proto"], input=text.encode(),
                          capture_output=True, check=True).stdout
def piece(b):
    return len(b).to_bytes(2, "big") + b
manifest = enc("CheckpointManifest", 'id: "cp-00000000000000aa" trigger: "import" root_mode: 493 file_count: 2')
T = lambda text: b"t" + enc("Tree", text)
seeds = {
    # root: a file of two chunks, a directory holding a file, a link
    "tree": [T(r'''entries { name: "a.txt" kind: FILE mode: 420 size: 11 chunks { hash: "\003" size: 5 } chunks { hash: "\004" size: 6 } }
               entries { name: "dir" kind: DIRECTORY mode: 493 tree: "\001" }
               entries { name: "link" kind: SYMLINK mode: 511 target: "a.txt" }'''),
             T(r'entries { name: "b" kind: FILE mode: 384 size: 5 chunks { hash: "\003" size: 5 } }'),
             b"x", b"hello", b" world"],
    "escape": [T(r'entries { name: ".." kind: DIRECTORY mode: 493 tree: "\001" }'),
               T(r'entries { name: "x" kind: FILE mode: 420 }')],
    "link-out": [T(r'entries { name: "l" kind: SYMLINK target: "/etc/passwd" } entries { name: "l" kind: FILE }')],
    "wrong-size": [T(r'entries { name: "f" kind: FILE size: 99 chunks { hash: "\001" size: 2 } }'), b"abc"],
}
for name, objects in seeds.items():
    data = piece(manifest) + b"".join(piece(o) for o in objects)
    open(os.path.join(out, name), "wb").write(data)
EOF

# --- config_toml: [parser] then the file: 0 agent, 1 controller, 2 prices ------------------
{ printf '\x00'; cat "$here/../../templates/config/agent.toml" 2>/dev/null || true; } | raw config_toml agent-template
{ printf '\x01'; cat "$here/../../templates/config/controller.toml" 2>/dev/null || true; } | raw config_toml controller-template
{ printf '\x02'; cat "$here/../../templates/prices.toml"; } | raw config_toml prices
{ printf '\x02'; cat <<'EOF'; } | raw config_toml prices-small
[models."claude-sonnet-4-5"]
aliases = ["claude-sonnet-4-5-20250929"]
input = 3.00
output = 15.00
cache_write = 3.75
cache_write_1h = 6.00
cache_read = 0.30
web_search_per_1000 = 10.00
max_output_tokens = 64000
[models."claude-sonnet-4-5".long_context]
above_input_tokens = 200000
input = 6.00
output = 22.50
[models."gpt-5"]
input = 1.25
output = 10.00
cache_read = 0.125
[models."gpt-5".priority]
input = 2.50
output = 20.00
[models."gpt-5".flex]
input = 0.625
output = 5.00
EOF
{ printf '\x00'; cat <<'EOF'; } | raw config_toml agent
nats = "nats://127.0.0.1:4222"
name = "worker-1"
data_dir = "/var/lib/autovibe"
task_slots = 2
task_grace = "5s"
[labels]
gpu = "none"
[meter]
listen = "127.0.0.1:0"
[checkpoints]
auto_every = "30s"
keep_auto = 10
[task_limits]
open_files = 1024
core_dumps = false
EOF
{ printf '\x01'; cat <<'EOF'; } | raw config_toml controller
data_dir = "/var/lib/autovibe"
listen = "127.0.0.1:8080"
heartbeat_interval = "2s"
heartbeat_ttl = "10s"
insecure_bus = true
[[pool]]
name = "local"
backend = "local"
min = 0
max = 4
idle_timeout = "10m"
labels = { pool = "local" }
EOF
printf '\x01heartbeat_interval = "10s"\nheartbeat_ttl = "1s"\n[[pool]]\nname = 5\n' | raw config_toml controller-bad

# --- api_json: [parser] then the body: 0 task spec, 1 budgets, 2 repo, 3 usage grouping ----
printf '\x00{"tool":"shell","command":["sh","-c","echo hi"],"priority":5,"depends_on":["t-1"],"labels":{"gpu":"none"},"timeout_s":60,"env":{"A":"b"},"max_attempts":2,"max_usd":"1.50"}' | raw api_json task
printf '\x00{"tool":"claude-code","prompt":"fix the bug","options":{"model":"claude-sonnet-4-5"},"from_checkpoint":"cp-1","repo":{"url":"https://example.org/r.git","ref":"main","publish":"pr","review":true}}' | raw api_json task-repo
printf '\x00{"tool":"shell","command":[],"timeout_s":-1,"unknown":1}' | raw api_json task-bad
printf '\x01{"budgets":[{"resource":"usd","limit":"5.00","period":"day","alert_at":[75,90],"on_exhaust":"pause"},{"resource":"tokens","limit":100000,"period":"total"}]}' | raw api_json budgets
printf '\x01{"budgets":[{"resource":"usd","limit":"0.0000001","period":"month","alert_at":[101,-1],"on_exhaust":"stop"},{"resource":"usd","limit":1e308}]}' | raw api_json budgets-bad
printf '\x02{"url":"git@example.org:r.git","ref":"v1","secret":"deploy","branch":"av/x","publish":"push","publish_on":"success"}' | raw api_json repo
printf '\x03"model"' | raw api_json group-by

# --- meter_stream: [api and kind][piece size] then the body (meter_stream.cc) --------------
# api = mode % 3 (0 messages, 1 chat completions, 2 responses), kind = (mode / 3) % 4
# (0 request, 1 JSON answer, 2 answer in pieces (0x80: streamed), 3 splitter)
printf '\x00\x07{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}],"thinking":{"type":"enabled","budget_tokens":2048}}' | raw meter_stream messages-request
printf '\x01\x07{"model":"gpt-4o","max_completion_tokens":100,"n":2,"stream":true,"messages":[{"role":"user","content":"hi"}]}' | raw meter_stream chat-request
printf '\x02\x07{"model":"gpt-5","max_output_tokens":100,"input":"hi","service_tier":"priority"}' | raw meter_stream responses-request
printf '\x03\x00{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":3,"cache_read_input_tokens":2,"cache_creation":{"ephemeral_1h_input_tokens":1},"server_tool_use":{"web_search_requests":1}}}' | raw meter_stream messages-answer
printf '\x04\x00{"model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}' | raw meter_stream chat-answer
printf '\x86\x05event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1}}}\n\nevent: ping\ndata: {}\n\nevent: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":42}}\r\n\r\n' | raw meter_stream messages-stream
printf '\x87\x03data: {"model":"gpt-4o","choices":[]}\n\ndata: {"model":"gpt-4o","usage":{"prompt_tokens":7,"completion_tokens":3}}\n\ndata: [DONE]\n\n' | raw meter_stream chat-stream
printf '\x88\x0bevent: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-5","service_tier":"flex","usage":{"input_tokens":9,"output_tokens":4,"input_tokens_details":{"cached_tokens":1}}}}\n\n' | raw meter_stream responses-stream
printf '\x09\x02: comment\nevent: x\ndata: a\ndata: b\nid: 1\nretry: 10\n\nevent: ping\ndata: dropped\n\n\r\rdata' | raw meter_stream splitter

# --- api_http and meter_http: the raw bytes of requests ------------------------------------
auth="Authorization: Bearer fuzz-admin-token-0123456789abcdef"
http() {  # target name method path body [extra header]
  local target=$1 name=$2 method=$3 path=$4 body=${5:-} extra=${6:-}
  {
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$method" "$path"
    [ -n "$extra" ] && printf '%s\r\n' "$extra"
    if [ -n "$body" ]; then
      printf 'Content-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' "${#body}" "$body"
    else
      printf '\r\n'
    fi
  } | raw "$target" "$name"
}
http api_http healthz GET /healthz
http api_http metrics GET /metrics
http api_http machines GET "/v1/machines?x=1&y=%41" "" "$auth"
http api_http machine GET /v1/machines/m-1 "" "$auth"
http api_http no-token GET /v1/tasks
http api_http project POST /v1/projects '{"name":"p1"}' "$auth"
http api_http task POST /v1/tasks '{"project":"demo","tool":"shell","command":["true"],"priority":1}' "$auth"
http api_http tasks GET "/v1/tasks?project=demo&state=queued&limit=5" "" "$auth"
http api_http task-show GET /v1/tasks/t-1 "" "$auth"
http api_http task-logs GET "/v1/tasks/t-1/logs?after=0" "" "$auth"
http api_http task-cancel POST /v1/tasks/t-2/cancel '{}' "$auth"
http api_http budgets PUT /v1/projects/demo/budgets '{"budgets":[{"resource":"usd","limit":"5.00","period":"total"}]}' "$auth"
http api_http usage GET "/v1/usage?group_by=model&project=demo" "" "$auth"
http api_http project-usage GET /v1/projects/demo/usage "" "$auth"
http api_http alerts GET /v1/alerts "" "$auth"
http api_http checkpoints GET "/v1/checkpoints?machine=m-1" "" "$auth"
http api_http checkpoint-restore POST /v1/checkpoints/cp-1/restore '{"task":"t-1"}' "$auth"
http api_http drain POST /v1/machines/m-2/drain '{}' "$auth"
http api_http spawn POST /v1/machines '{"pool":"none"}' "$auth"
http api_http join-token POST /v1/machines/join-tokens '{"ttl":"1h"}' "$auth"
http api_http secret PUT /v1/secrets/deploy '{"value":"s3cret"}' "$auth"
http api_http project-stop POST /v1/projects/demo/stop '{}' "$auth"
http api_http project-resume POST /v1/projects/demo/resume '{}' "$auth"
http api_http bad-json POST /v1/tasks '{"project":' "$auth"
printf 'GET /v1/machines HTTP/1.1\r\n%s\r\n\r\nGET /v1/projects HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n' "$auth" "$auth" | raw api_http pipelined
printf 'POST /v1/projects HTTP/1.1\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"nam\r\n8\r\ne":"p2"}\r\n0\r\n\r\n' "$auth" | raw api_http chunked
printf 'GET /v1/%%zz HTTP/1.1\r\n\r\n' | raw api_http bad-target
printf 'GET http://x/v1/machines HTTP/1.0\r\n\r\n' | raw api_http absolute-target

token="x-api-key: av-task-token-1"
http meter_http messages POST "/v1/messages?beta=true" '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"hi"}]}' "$token"
http meter_http messages-stream POST /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"hi"}]}' "$token"
http meter_http chat POST /v1/chat/completions '{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' "Authorization: Bearer av-task-token-1"
http meter_http chat-stream POST /v1/chat/completions '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}' "Authorization: Bearer av-task-token-1"
http meter_http responses POST /v1/responses '{"model":"gpt-5","max_output_tokens":64,"input":"hi"}' "Authorization: Bearer av-task-token-1"
http meter_http too-dear POST /v1/messages '{"model":"claude-opus-4-1","max_tokens":64000,"messages":[{"role":"user","content":"hi"}]}' "$token"
http meter_http no-token POST /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":1}'
http meter_http probe HEAD / ""
http meter_http unknown-route POST /v1/embeddings '{}' "$token"
printf 'POST /v1/messages HTTP/1.1\r\n%s\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n{"model":"x","max_t' "$token" | raw meter_http expect-short
echo "seeds written to $corpus"
