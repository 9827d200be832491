// Controller settings: TOML file first, then command-line flags on top.
#pragma once

#include <string>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "controller/provisioners/pool_config.h"

namespace autovibe {

struct ControllerConfig {
  std::string data_dir = "/var/lib/autovibe/controller";
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_user;
  std::string nats_password;
  std::string listen = "127.0.0.1:8080";
  Duration heartbeat_interval = std::chrono::seconds(2);
  Duration heartbeat_ttl = std::chrono::seconds(10);
  std::string subject_prefix = "av";
  std::string log_level = "info";
  // How long a budget lease reply lets an agent spend before it must renew.
  Duration lease_ttl = std::chrono::seconds(30);
  // Budget alerts are posted here (Slack-compatible JSON) when set; http:// only for now.
  std::string alert_webhook;
  // Machines the controller provisions itself ([[pool]] tables).
  std::vector<PoolConfig> pools;
  // The NATS URL the agents of provisioned machines connect to; empty: the controller's own.
  std::string agent_nats_url;
  // Per-machine bus credentials: the file of users the controller writes for nats-server to
  // include, and the server's pid file (SIGHUP reloads it). Empty: agents get no credentials.
  std::string nats_auth_file;
  std::string nats_pid_file;
  // Runs without bus users (no nats_auth_file): anyone who reaches nats-server reads every
  // command and runs tasks on every agent. Refused unless set; warned about at every start.
  bool insecure_bus = false;
  // Scheduled backups of the database (store/backup.h): every `backup_every` (0: none) into
  // `backup_dir` (default <data_dir>/backups), the newest `backup_keep` kept.
  Duration backup_every = Duration(0);
  std::string backup_dir;
  int backup_keep = 7;
  // Each task checkpoint is copied onto this many other machines as it is taken (only the
  // objects they lack travel), so a task whose machine is lost resumes elsewhere. 0: none.
  int checkpoint_replicas = 1;
  // The API's connections (common/http/listener.h): at most this many open at once (fewer if
  // the open-files limit leaves no room: the store and the bus keep theirs), this many per
  // client address, and a request's head must come within http_header_timeout.
  int http_max_connections = 4096;
  int http_max_connections_per_client = 512;
  Duration http_header_timeout = std::chrono::seconds(10);
  // Local repositories (file://, /path) tasks may name lie under one of these; none: tasks
  // may name no local repository (the agent's own disk is not theirs to read).
  std::vector<std::string> repo_local_roots;
  // A repository task's diff plus bundle bigger than this is not kept by the controller.
  int64_t max_result_bytes = 64ll << 20;
  // How long the controller keeps a finished task's result (diff, bundle). 0: for ever.
  Duration result_retention = std::chrono::hours(30 * 24);
  // How long the audit log keeps a record. 0: for ever.
  Duration audit_retention = std::chrono::hours(365 * 24);
};

// Reads a TOML config. Keys: data_dir, nats, nats_user, nats_password, listen,
// heartbeat_interval, heartbeat_ttl, subject_prefix, log_level, lease_ttl, alert_webhook,
// agent_nats, nats_auth_file, nats_pid_file, insecure_bus, backup_every, backup_dir,
// backup_keep, checkpoint_replicas, http_max_connections, http_max_connections_per_client,
// http_header_timeout, repo_local_roots, max_result_bytes, result_retention,
// audit_retention, and the [[pool]] array (pool_config.h). Unknown
// keys are an error, so a typo does not silently fall back to a default.
Result<void> LoadControllerConfigToml(std::string_view toml_text, ControllerConfig& config);

// Checks values that parse but make no sense (ttl not above the interval, bad prefix, ...).
Result<void> ValidateControllerConfig(const ControllerConfig& config);

// Refuses a bus without users (no nats_auth_file) unless insecure_bus says so: on an open bus
// anyone who reaches nats-server reads every command and runs tasks on every agent.
// Errors: bad_config, saying both ways out.
Result<void> RequireBusUsers(const ControllerConfig& config);

// Parses argv (flags override the file given by --config). Returns the exit code when the
// program should stop right away (--help, a usage error), after printing.
struct ParsedArgs {
  ControllerConfig config;
  int exit_code = -1;  // -1: run
  // "" (run the controller), "backup" or "restore", with the file to write or read.
  std::string command;
  std::string file;
};
ParsedArgs ParseControllerArgs(int argc, char** argv);

}  // namespace autovibe
