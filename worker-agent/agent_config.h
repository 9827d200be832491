// Agent settings: TOML file first, then command-line flags on top.
#pragma once

#include <map>
#include <string>

#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "worker-agent/box/box_settings.h"
#include "worker-agent/meter/meter_config.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe {

// Workspace checkpoints ([checkpoints] table).
// Retention of workspaces and repository mirrors ([repos]; worker-agent/repo/retention.h).
struct RepoSettings {
  Duration workspace_max_age = std::chrono::hours(72);
  Duration mirror_max_age = std::chrono::hours(14 * 24);
  uint32_t min_free_percent = 10;
};

struct CheckpointSettings {
  // After an LLM response, at most one checkpoint this often per task (only when the
  // workspace changed). 0: none after responses.
  Duration auto_every = std::chrono::seconds(30);
  bool at_task_end = true;
  // Retention: manual checkpoints stay; of the automatic ones (auto, task_end,
  // before_restore) the newest keep_auto of each workspace and the newest of each of the
  // last keep_days days.
  uint32_t keep_auto = 20;
  uint32_t keep_days = 7;
  // Retention runs after automatic checkpoints, at most this often.
  Duration prune_every = std::chrono::minutes(5);
};

struct AgentConfig {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_user;
  std::string nats_password;
  // TLS to nats-server (nats_ca, nats_ca_pem, nats_cert, nats_key; common/bus/bus_tls_config.h).
  BusTls nats_tls;
  // A one-time join token (`autovibe machines join-token create`), or the file holding one:
  // at its first start the agent exchanges it for a bus user of its own, kept in
  // <data_dir>/bus-user.toml (0600) and used on every later start (bus_join.h).
  std::string join_token;
  std::string join_token_file;
  std::string name;  // defaults to the host name
  std::string data_dir = "/var/lib/autovibe/agent";
  std::string backend = "manual";  // set by the provisioner that started this agent
  // The id the controller gave this machine (set by provisioners); overrides the one the
  // agent remembers in its data dir (a machine cloned from another's disk remembers that one).
  std::string machine_id;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> upstreams;  // provider -> URL or "mock"
  std::string subject_prefix = "av";
  std::string log_level = "info";
  // Tasks.
  uint32_t task_slots = 1;                        // tasks this machine runs at once
  uint64_t max_output_bytes = 16 << 20;           // per task; output beyond is read and dropped
  Duration task_grace = std::chrono::seconds(5);  // SIGTERM -> SIGKILL unless the task says
  ResourceLimits task_limits;                     // applied to every tool (setrlimit)
  // Each task in its own box (task_user, network and the [box] table).
  box::BoxSettings box;
  // The metering proxy: where it listens, prices, keys, per-task rate limits, the mock.
  meter::MeterConfig meter;
  CheckpointSettings checkpoints;
  RepoSettings repos;
  // The agent's own GET /metrics (agent_metrics.h): HOST:PORT, "" for none (the default);
  // on loopback only unless metrics_allow_remote.
  std::string metrics_listen;
  bool metrics_allow_remote = false;
  std::string config_file;  // the --config file, if any: masked inside task boxes
};

// Keys: nats, nats_user, nats_password, nats_ca, nats_ca_pem, nats_cert, nats_key, join_token,
// join_token_file, name, data_dir, backend, machine_id, subject_prefix, log_level,
// task_slots, max_output_bytes, task_grace, metrics_listen, metrics_allow_remote, task_user
// ("per-task" | "root"), network ("host" | "proxy-only"), [box] table (box_settings.h), [labels]
// table, [upstreams] table, [task_limits] table (address_space_bytes, cpu_seconds, file_size_bytes,
// open_files, processes: integers, 0 keeps the agent's own limit; core_dumps: bool), [meter] table
// (meter_config.h), [checkpoints] table (auto_every, at_task_end, keep_auto, keep_days,
// prune_every). Unknown keys are an error.
Result<void> LoadAgentConfigToml(std::string_view toml_text, AgentConfig& config);

// Sets box.task_user (`key` "task_user") or box.network ("network") from its text.
Result<void> ApplyBoxChoice(std::string_view key, const std::string& text, box::BoxSettings& b);

// "k=v" -> (k, v); fails on a missing '=' or an empty key.
Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text);

// Checks values that parse but make no sense: the name, the subject prefix, the log level, the
// task slots, output cap, grace period and limits.
Result<void> ValidateAgentConfig(const AgentConfig& config);
// The task part of ValidateAgentConfig.
Result<void> ValidateTaskSettings(const AgentConfig& config);

struct ParsedAgentArgs {
  AgentConfig config;
  int exit_code = -1;  // -1: run
};
ParsedAgentArgs ParseAgentArgs(int argc, char** argv);

}  // namespace autovibe
