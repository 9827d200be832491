#include "controller/config.h"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <optional>

#include "common/bus/bus_tls_config.h"
#include "common/core/config_file.h"
#include "common/core/files.h"
#include "common/core/flags.h"
#include "common/core/names.h"
#include "common/http/server.h"
#include "common/tls/issue.h"
#include "controller/machines/nats_auth.h"

namespace autovibe {
namespace {

constexpr int kMaxReplicas = 8;

constexpr std::string_view kNoBusUsers =
    "the bus has no users: give the controller nats_auth_file and nats_pid_file (and its own "
    "nats_user and nats_password) so that every machine gets a bus user of its own, or pass "
    "--insecure-bus (insecure_bus = true) to run an open bus, on which anyone who reaches "
    "nats-server reads every command and runs tasks on every agent";

constexpr std::string_view kPlainHttpAbroad =
    " is not a loopback address: tokens would cross the network readable. Pass "
    "--insecure-http (insecure_http = true) to serve plain http there anyway, or drop "
    "--plain-http to serve https (--tls-cert and --tls-key, or a self-signed certificate made "
    "in the data dir)";

// A list of strings.
Result<void> TomlStrings(const toml::node& node, std::string_view key,
                         std::vector<std::string>& out) {
  const toml::array* items = node.as_array();
  auto bad = [&] {
    return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a list of strings");
  };
  if (items == nullptr) return bad();
  out.clear();
  for (const toml::node& item : *items) {
    auto text = item.value<std::string>();
    if (!text) return bad();
    out.push_back(*text);
  }
  return {};
}

// A whole number from `lo` to `hi`.
Result<void> TomlCount(const toml::node& node, std::string_view key, int lo, int hi, int& out) {
  auto n = TomlWholeNumber(node);
  if (!n || *n < lo || *n > hi) {
    return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a whole number from " +
                                                std::to_string(lo) + " to " + std::to_string(hi));
  }
  out = static_cast<int>(*n);
  return {};
}

Result<void> TomlBool(const toml::node& node, std::string_view key, bool& out) {
  auto b = node.value_exact<bool>();
  if (!b) return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be true or false");
  out = *b;
  return {};
}

}  // namespace

Result<void> LoadControllerConfigToml(std::string_view toml_text, ControllerConfig& c) {
  return ForEachTomlKey(
      toml_text, [&c](std::string_view k, const toml::node& node) -> Result<void> {
        if (k == "data_dir") return TomlString(node, k, c.data_dir);
        if (k == "nats") return TomlString(node, k, c.nats_url);
        if (k == "nats_user") return TomlString(node, k, c.nats_user);
        if (k == "nats_password") return TomlString(node, k, c.nats_password);
        if (k != "nats_ca_pem") {
          if (auto r = TomlBusTls(k, node, c.nats_tls)) return *r;
        }
        if (k == "agent_nats_ca") return TomlString(node, k, c.agent_nats_ca);
        if (k == "listen") return TomlString(node, k, c.listen);
        if (k == "subject_prefix") return TomlString(node, k, c.subject_prefix);
        if (k == "log_level") return TomlString(node, k, c.log_level);
        if (k == "heartbeat_interval") return TomlDuration(node, k, c.heartbeat_interval);
        if (k == "heartbeat_ttl") return TomlDuration(node, k, c.heartbeat_ttl);
        if (k == "lease_ttl") return TomlDuration(node, k, c.lease_ttl);
        if (k == "alert_webhook") return TomlString(node, k, c.alert_webhook);
        if (k == "webhook_attempts") return TomlCount(node, k, 1, 20, c.webhook_attempts);
        if (k == "webhook_first_retry") return TomlDuration(node, k, c.webhook_first_retry);
        if (k == "webhook_allow_http") return TomlBool(node, k, c.webhook_allow_http);
        if (k == "agent_nats") return TomlString(node, k, c.agent_nats_url);
        if (k == "nats_auth_file") return TomlString(node, k, c.nats_auth_file);
        if (k == "nats_pid_file") return TomlString(node, k, c.nats_pid_file);
        if (k == "insecure_bus") return TomlBool(node, k, c.insecure_bus);
        if (k == "backup_every") return TomlDuration(node, k, c.backup_every);
        if (k == "backup_dir") return TomlString(node, k, c.backup_dir);
        if (k == "backup_keep") return TomlCount(node, k, 1, 10000, c.backup_keep);
        if (k == "checkpoint_replicas") {
          return TomlCount(node, k, 0, kMaxReplicas, c.checkpoint_replicas);
        }
        if (k == "http_max_connections") {
          return TomlCount(node, k, 1, 1 << 20, c.http_max_connections);
        }
        if (k == "http_max_connections_per_client") {
          return TomlCount(node, k, 1, 1 << 20, c.http_max_connections_per_client);
        }
        if (k == "http_header_timeout") {
          return TomlDuration(node, k, c.http_header_timeout);
        }
        if (k == "repo_local_roots") {
          const toml::array* roots = node.as_array();
          if (roots == nullptr)
            return MakeError(ErrorCode::kBadConfig,
                             "repo_local_roots must be a list of absolute paths");
          c.repo_local_roots.clear();
          for (const toml::node& r : *roots) {
            auto path = r.value<std::string>();
            if (!path || !path->starts_with("/")) {
              return MakeError(ErrorCode::kBadConfig,
                               "repo_local_roots must be a list of absolute paths");
            }
            c.repo_local_roots.push_back(*path);
          }
          return {};
        }
        if (k == "result_retention") return TomlDuration(node, k, c.result_retention);
        if (k == "tls_cert") return TomlString(node, k, c.tls_cert);
        if (k == "tls_key") return TomlString(node, k, c.tls_key);
        if (k == "tls_san") return TomlStrings(node, k, c.tls_san);
        if (k == "plain_http") return TomlBool(node, k, c.plain_http);
        if (k == "insecure_http") return TomlBool(node, k, c.insecure_http);
        if (k == "audit_retention") return TomlDuration(node, k, c.audit_retention);
        if (k == "events_reader_buffer") {
          return TomlCount(node, k, 4096, 1 << 30, c.events_reader_buffer);
        }
        if (k == "max_result_bytes") {
          auto n = TomlWholeNumber(node);
          if (!n || *n < 0)
            return MakeError(ErrorCode::kBadConfig,
                             "max_result_bytes must be a whole number of bytes");
          c.max_result_bytes = *n;
          return {};
        }
        if (k == "pool") {
          auto pools = ParsePools(node);
          if (!pools) return pools.error();
          c.pools = std::move(*pools);
          return {};
        }
        return UnknownKey(k);
      });
}

Result<void> ValidateControllerConfig(const ControllerConfig& c) {
  if (c.data_dir.empty()) return MakeError(ErrorCode::kBadConfig, "data_dir must not be empty");
  if (c.backup_every.count() != 0 && c.backup_every < std::chrono::seconds(1)) {
    return MakeError(ErrorCode::kBadConfig, "backup_every must be at least 1s (or 0: no backups)");
  }
  if (c.http_header_timeout < std::chrono::milliseconds(100)) {
    return MakeError(ErrorCode::kBadConfig, "http_header_timeout must be at least 100ms");
  }
  if (c.heartbeat_interval.count() < 10) {
    return MakeError(ErrorCode::kBadConfig, "heartbeat_interval must be at least 10ms");
  }
  if (c.heartbeat_ttl <= c.heartbeat_interval) {
    return MakeError(ErrorCode::kBadConfig, "heartbeat_ttl (" + FormatDuration(c.heartbeat_ttl) +
                                                ") must be longer than heartbeat_interval (" +
                                                FormatDuration(c.heartbeat_interval) + ")");
  }
  if (!ValidSubjectToken(c.subject_prefix)) {
    return MakeError(ErrorCode::kBadConfig,
                     "subject_prefix must be one NATS token (no '.', '*', '>')");
  }
  if (c.lease_ttl < std::chrono::seconds(1) || c.lease_ttl > std::chrono::hours(1)) {
    return MakeError(ErrorCode::kBadConfig, "lease_ttl must be between 1s and 1h");
  }
  if (!c.alert_webhook.empty()) {
    auto url = boost::urls::parse_absolute_uri(c.alert_webhook);
    if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
      return MakeError(
          ErrorCode::kBadConfig,
          "alert_webhook must be an http:// (or https://) URL, got \"" + c.alert_webhook + "\"");
    }
  }
  if (c.webhook_first_retry < std::chrono::milliseconds(10) ||
      c.webhook_first_retry > std::chrono::hours(1)) {
    return MakeError(ErrorCode::kBadConfig, "webhook_first_retry must be between 10ms and 1h");
  }
  if (!c.nats_auth_file.empty()) {
    if (c.nats_pid_file.empty()) {
      return MakeError(ErrorCode::kBadConfig,
                       "nats_auth_file needs nats_pid_file: the controller makes nats-server "
                       "reload its users through it");
    }
    NatsAuthOptions o{.auth_file = c.nats_auth_file,
                      .controller_user = c.nats_user,
                      .controller_password = c.nats_password};
    if (auto r = ValidateNatsAuthOptions(o); !r) return r;
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     "tls_cert and tls_key go together: the certificate and its private key");
  }
  if (!c.tls_cert.empty() && ServesPlainHttp(c)) {
    return MakeError(ErrorCode::kBadConfig,
                     "tls_cert serves https; it cannot go with plain_http or insecure_http");
  }
  if (!c.tls_san.empty() && !c.tls_cert.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     "tls_san names the self-signed certificate's hosts; a certificate given "
                     "with tls_cert carries its own");
  }
  if (auto r = CheckCertificateNames(c.tls_san); !r) {
    return MakeError(ErrorCode::kBadConfig, "tls_san: " + r.error().message);
  }
  if (!ValidLogLevel(c.log_level)) {
    return MakeError(ErrorCode::kBadConfig,
                     "log_level must be one of trace, debug, info, warn, error");
  }
  return {};
}

Result<void> RequireBusUsers(const ControllerConfig& c) {
  if (c.nats_auth_file.empty() && !c.insecure_bus) {
    return MakeError(ErrorCode::kBadConfig, std::string(kNoBusUsers));
  }
  return {};
}

Result<std::string> AgentNatsCa(const ControllerConfig& c) {
  const std::string& path = c.agent_nats_ca.empty() ? c.nats_tls.ca_file : c.agent_nats_ca;
  if (path.empty()) return std::string();
  auto pem = ReadFile(path);
  if (!pem || pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return MakeError(
        ErrorCode::kBadConfig,
        "the agents' NATS CA " + path + " (agent_nats_ca, else nats_ca) " +
            (pem ? "holds no PEM certificate" : "cannot be read: " + pem.error().message));
  }
  return *pem;
}

bool ServesPlainHttp(const ControllerConfig& c) { return c.plain_http || c.insecure_http; }

Result<void> RequireSafeApi(const ControllerConfig& c) {
  if (!ServesPlainHttp(c) || c.insecure_http) return {};
  auto hp = ParseHostPort(c.listen);
  if (!hp) return hp.error();
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(hp->first, ec);
  if (!ec && address.is_loopback()) return {};
  return MakeError(ErrorCode::kBadConfig, "plain http on " + c.listen + " refused: " + hp->first +
                                              std::string(kPlainHttpAbroad));
}

ParsedArgs ParseControllerArgs(int argc, char** argv) {
  ParsedArgs out;
  ControllerConfig& c = out.config;
  CLI::App app{"autovibe-controller: schedules coding tasks across the fleet and holds budgets"};
  std::string config_file, data_dir, nats, listen, interval, ttl, prefix, level, user, password,
      lease_ttl, webhook;
  std::optional<int> replicas;
  std::string auth_file, pid_file, tls_cert, tls_key;
  std::vector<std::string> tls_san;
  bool insecure_bus = false, plain_http = false, insecure_http = false;
  app.add_option("--config", config_file, "TOML config file; flags override it");
  app.add_option("--data-dir", data_dir,
                 "state directory (database, admin.token) [" + c.data_dir + "]");
  app.add_option("--nats", nats, "NATS server URL [" + c.nats_url + "]");
  app.add_option("--nats-user", user, "NATS user name");
  app.add_option("--nats-password", password, "NATS password");
  BusTls tls_flags;
  AddBusTlsFlags(app, tls_flags);
  std::string agent_ca;
  app.add_option("--agent-nats-ca", agent_ca,
                 "CA file the agents of provisioned machines verify nats-server with [--nats-ca]");
  app.add_option("--nats-auth-file", auth_file,
                 "file of bus users the controller writes for nats-server to include: one user "
                 "per machine and per live join token (needs --nats-pid-file)");
  app.add_option("--nats-pid-file", pid_file,
                 "nats-server's pid file: the controller signals it to reload its users");
  app.add_flag("--insecure-bus", insecure_bus,
               "run without bus users: anyone who reaches nats-server can read every command "
               "and run tasks on every agent (warned about at every start)");
  app.add_option("--listen", listen, "HTTP API address HOST:PORT [" + c.listen + "]");
  app.add_option("--tls-cert", tls_cert,
                 "the API's certificate (PEM; the server's first, then any intermediates); "
                 "without it the API serves https with a self-signed certificate made on first "
                 "start as DATA_DIR/tls-cert.pem, whose SHA-256 fingerprint it logs [none]");
  app.add_option("--tls-key", tls_key, "the private key of --tls-cert (PEM, mode 0600)");
  app.add_option("--tls-san", tls_san,
                 "a host name or IP address the self-signed certificate is also made for "
                 "(besides 127.0.0.1, ::1, localhost and this host's name); repeatable");
  app.add_flag("--plain-http", plain_http,
               "serve the API over plain http instead of https: only on a loopback --listen "
               "address (tests, a local proxy that terminates TLS)");
  app.add_flag("--insecure-http", insecure_http,
               "serve the API over plain http on any address: anyone on the network path reads "
               "every token (warned about at every start)");
  app.add_option("--heartbeat-interval", interval, "how often agents send heartbeats [2s]");
  app.add_option("--heartbeat-ttl", ttl, "a machine without heartbeat this long is lost [10s]");
  app.add_option("--subject-prefix", prefix, "bus subject prefix [av]");
  app.add_option("--log-level", level, "trace|debug|info|warn|error [info]");
  app.add_option("--lease-ttl", lease_ttl,
                 "how long a budget lease lets an agent spend before it renews [30s]");
  app.add_option("--alert-webhook", webhook,
                 "URL that budget alerts are POSTed to as JSON with a Slack-compatible \"text\" "
                 "(a webhook subscription of its own; see autovibe webhook) [none]");
  app.add_option("--checkpoint-replicas", replicas,
                 "copies of each task checkpoint kept on other machines, so a task whose "
                 "machine is lost resumes elsewhere [1]")
      ->check(CLI::Range(0, kMaxReplicas));
  app.set_version_flag("--version", AUTOVIBE_VERSION);
  CLI::App* backup = app.add_subcommand(
      "backup", "Copy the controller's database to FILE, consistent while it runs");
  backup->add_option("--to", out.file, "the backup file to write")->required();
  CLI::App* restore = app.add_subcommand(
      "restore", "Put a backup in place of the database (the controller must be stopped)");
  restore->add_option("--from", out.file, "the backup file to read")->required();
  CLI::App* tls = app.add_subcommand("tls", "Certificates for the API and NATS");
  CLI::App* tls_init = tls->add_subcommand(
      "init",
      "Make a small CA in DIR (ca.pem, ca-key.pem; kept and reused) and a server certificate "
      "it signs (NAME.pem, NAME-key.pem), all 0600; clients verify the server with ca.pem");
  tls->require_subcommand(1);
  CertificateDirRequest& ti = out.tls_init;
  tls_init->add_option("--dir", ti.dir, "directory of the CA and certificates")->required();
  tls_init->add_option("--name", ti.name, "the certificate's file name [server]");
  tls_init->add_option("--san", ti.names,
                       "a host name or IP address the certificate is for (besides 127.0.0.1, "
                       "::1, localhost and this host's name); repeatable");
  tls_init->add_option("--days", ti.days, "the certificate's validity in days [825]")
      ->check(CLI::Range(1, 3650));
  for (CLI::App* sub : {backup, restore}) sub->fallthrough();
  app.require_subcommand(0, 1);
  if (auto code = ParseFlags(app, argc, argv)) {
    out.exit_code = *code;
    return out;
  }
  if (tls_init->parsed()) {
    // Needs no config: it only writes files.
    out.command = "tls-init";
    ti.names = DefaultServerNames(ti.names);
    return out;
  }
  auto fail = [&](const Error& e) {
    out.exit_code = ReportConfigError("autovibe-controller", e);
    return out;
  };
  auto loaded = LoadConfigFlag(
      config_file, [&c](std::string_view text) { return LoadControllerConfigToml(text, c); });
  if (!loaded) return fail(loaded.error());
  Override(c.data_dir, data_dir);
  Override(c.nats_url, nats);
  Override(c.nats_user, user);
  Override(c.nats_password, password);
  ApplyBusTlsFlags(tls_flags, c.nats_tls);
  Override(c.agent_nats_ca, agent_ca);
  Override(c.nats_auth_file, auth_file);
  Override(c.nats_pid_file, pid_file);
  if (insecure_bus) c.insecure_bus = true;
  Override(c.tls_cert, tls_cert);
  Override(c.tls_key, tls_key);
  if (!tls_san.empty()) c.tls_san = tls_san;
  if (plain_http) c.plain_http = true;
  if (insecure_http) c.insecure_http = true;
  Override(c.listen, listen);
  Override(c.subject_prefix, prefix);
  Override(c.log_level, level);
  Override(c.alert_webhook, webhook);
  if (replicas) c.checkpoint_replicas = *replicas;
  for (auto [text, target] : {std::pair{&interval, &c.heartbeat_interval},
                              {&ttl, &c.heartbeat_ttl},
                              {&lease_ttl, &c.lease_ttl}}) {
    if (text->empty()) continue;
    auto d = ParseDuration(*text);
    if (!d) return fail(d.error());
    *target = *d;
  }
  if (auto r = ValidateControllerConfig(c); !r) return fail(r.error());
  if (backup->parsed()) out.command = "backup";
  // Backups and restores touch the database only; the controller itself needs bus users.
  if (restore->parsed()) out.command = "restore";
  if (out.command.empty()) {
    if (auto r = RequireBusUsers(c); !r) return fail(r.error());
    if (auto r = RequireSafeApi(c); !r) return fail(r.error());
  }
  return out;
}

}  // namespace autovibe
