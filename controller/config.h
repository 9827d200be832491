// Controller settings: TOML file first, then command-line flags on top.
#pragma once

#include <string>
#include <vector>

#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/tls/certificate_dir.h"
#include "controller/provisioners/pool_config.h"

namespace autovibe {

struct ControllerConfig {
  std::string data_dir = "/var/lib/autovibe/controller";
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_user;
  std::string nats_password;
  // TLS to nats-server (nats_ca, nats_cert, nats_key; common/bus/bus_tls_config.h).
  BusTls nats_tls;
  // The CA file the agents of provisioned machines verify nats-server with (written into their
  // config); empty: nats_ca's.
  std::string agent_nats_ca;
  std::string listen = "127.0.0.1:8080";
  Duration heartbeat_interval = std::chrono::seconds(2);
  Duration heartbeat_ttl = std::chrono::seconds(10);
  std::string subject_prefix = "av";
  std::string log_level = "info";
  // How long a budget lease reply lets an agent spend before it must renew.
  Duration lease_ttl = std::chrono::seconds(30);
  // Budget alerts are posted here when set: shorthand for a webhook subscription
  // (wh-alert-webhook) to budget_alert and budget_exhausted in generic JSON, whose "text" is
  // what Slack shows.
  std::string alert_webhook;
  // Webhook deliveries (controller/notify): attempts in all, the wait before the first retry
  // (doubling after each), and whether plain http:// may go to hosts other than loopback.
  int webhook_attempts = 6;
  Duration webhook_first_retry = std::chrono::seconds(20);
  bool webhook_allow_http = false;
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
  // The API's TLS. It serves https with tls_cert and tls_key (PEM files) when given, else with
  // a self-signed certificate made on first start as <data_dir>/tls-cert.pem and
  // <data_dir>/tls-key.pem (0600, kept and reused: clients pin it) for 127.0.0.1, ::1,
  // localhost, this host's name and tls_san.
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::string> tls_san;
  // Serve plain http instead: refused unless `listen` is a loopback address, or
  // insecure_http is set (then anyone on the network path reads every token; warned about at
  // every start). insecure_http alone also means plain http.
  bool plain_http = false;
  bool insecure_http = false;
  // A repository task's diff plus bundle bigger than this is not kept by the controller.
  int64_t max_result_bytes = 64ll << 20;
  // How long the controller keeps a finished task's result (diff, bundle). 0: for ever.
  Duration result_retention = std::chrono::hours(30 * 24);
  // How long the audit log keeps a record. 0: for ever.
  Duration audit_retention = std::chrono::hours(365 * 24);
  // A reader of GET /v1/events with more than this written and not yet taken is dropped.
  int events_reader_buffer = 1 << 20;
};

// Reads a TOML config. Keys: data_dir, nats, nats_user, nats_password, nats_ca, nats_cert,
// nats_key, agent_nats_ca, listen,
// heartbeat_interval, heartbeat_ttl, subject_prefix, log_level, lease_ttl, alert_webhook,
// webhook_attempts, webhook_first_retry, webhook_allow_http,
// agent_nats, nats_auth_file, nats_pid_file, insecure_bus, backup_every, backup_dir,
// backup_keep, checkpoint_replicas, http_max_connections, http_max_connections_per_client,
// http_header_timeout, repo_local_roots, max_result_bytes, result_retention, tls_cert,
// tls_key, tls_san, plain_http, insecure_http, audit_retention, events_reader_buffer, and
// the [[pool]] array
// (pool_config.h). Unknown
// keys are an error, so a typo does not silently fall back to a default.
Result<void> LoadControllerConfigToml(std::string_view toml_text, ControllerConfig& config);

// Checks values that parse but make no sense (ttl not above the interval, bad prefix, ...).
Result<void> ValidateControllerConfig(const ControllerConfig& config);

// Refuses a bus without users (no nats_auth_file) unless insecure_bus says so: on an open bus
// anyone who reaches nats-server reads every command and runs tasks on every agent.
// Errors: bad_config, saying both ways out.
Result<void> RequireBusUsers(const ControllerConfig& config);

// The CA (PEM) provisioned machines' agents verify nats-server with: agent_nats_ca's file, else
// nats_ca's; "" when neither is set. Errors: bad_config (cannot be read, holds no certificate).
Result<std::string> AgentNatsCa(const ControllerConfig& config);

// Whether the API serves plain http (plain_http or insecure_http).
bool ServesPlainHttp(const ControllerConfig& config);

// Refuses plain http on an address other than loopback unless insecure_http says so: tokens
// and prompts would cross the network readable. Errors: bad_config, saying both ways out.
Result<void> RequireSafeApi(const ControllerConfig& config);

// Parses argv (flags override the file given by --config). Returns the exit code when the
// program should stop right away (--help, a usage error), after printing.
struct ParsedArgs {
  ControllerConfig config;
  int exit_code = -1;  // -1: run
  // "" (run the controller), "backup" or "restore", with the file to write or read, or
  // "tls-init" (make a CA and a certificate it signs: `tls init`).
  std::string command;
  std::string file;
  CertificateDirRequest tls_init;
};
ParsedArgs ParseControllerArgs(int argc, char** argv);

}  // namespace autovibe
