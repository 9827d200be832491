#include "controller/config.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <iostream>
#include <set>

#include "common/core/files.h"

namespace autovibe {
namespace {

Result<void> SetString(const toml::node& n, std::string_view key, std::string& out) {
  auto v = n.value<std::string>();
  if (!v) return MakeError("bad_config", std::string(key) + " must be a string");
  out = *v;
  return {};
}

Result<void> SetDuration(const toml::node& n, std::string_view key, Duration& out) {
  auto v = n.value<std::string>();
  if (!v) return MakeError("bad_config", std::string(key) + " must be a duration string like \"2s\"");
  auto d = ParseDuration(*v);
  if (!d) return MakeError("bad_config", std::string(key) + ": " + d.error().message);
  out = *d;
  return {};
}

}  // namespace

Result<void> LoadControllerConfigToml(std::string_view toml_text, ControllerConfig& c) {
  toml::table tbl;
  try {
    tbl = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return MakeError("bad_config", std::string("config is not valid TOML: ") +
                                       std::string(e.description()) + " at line " +
                                       std::to_string(e.source().begin.line));
  }
  for (auto& [key, node] : tbl) {
    const std::string_view k = key.str();
    Result<void> r;
    if (k == "data_dir") r = SetString(node, k, c.data_dir);
    else if (k == "nats") r = SetString(node, k, c.nats_url);
    else if (k == "nats_user") r = SetString(node, k, c.nats_user);
    else if (k == "nats_password") r = SetString(node, k, c.nats_password);
    else if (k == "listen") r = SetString(node, k, c.listen);
    else if (k == "subject_prefix") r = SetString(node, k, c.subject_prefix);
    else if (k == "log_level") r = SetString(node, k, c.log_level);
    else if (k == "heartbeat_interval") r = SetDuration(node, k, c.heartbeat_interval);
    else if (k == "heartbeat_ttl") r = SetDuration(node, k, c.heartbeat_ttl);
    else if (k == "pool") continue;  // provisioned pools: read by the provisioners
    else r = MakeError("bad_config", "unknown config key \"" + std::string(k) + "\"");
    if (!r) return r;
  }
  return {};
}

Result<void> ValidateControllerConfig(const ControllerConfig& c) {
  if (c.data_dir.empty()) return MakeError("bad_config", "data_dir must not be empty");
  if (c.heartbeat_interval.count() < 10) {
    return MakeError("bad_config", "heartbeat_interval must be at least 10ms");
  }
  if (c.heartbeat_ttl <= c.heartbeat_interval) {
    return MakeError("bad_config", "heartbeat_ttl (" + FormatDuration(c.heartbeat_ttl) +
                                       ") must be longer than heartbeat_interval (" +
                                       FormatDuration(c.heartbeat_interval) + ")");
  }
  if (c.subject_prefix.empty() || c.subject_prefix.find_first_of(" .*>\t") != std::string::npos) {
    return MakeError("bad_config", "subject_prefix must be one NATS token (no '.', '*', '>')");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.count(c.log_level)) {
    return MakeError("bad_config", "log_level must be one of trace, debug, info, warn, error");
  }
  return {};
}

ParsedArgs ParseControllerArgs(int argc, char** argv) {
  ParsedArgs out;
  ControllerConfig& c = out.config;
  CLI::App app{"autovibe-controller: schedules coding tasks across the fleet and holds budgets"};
  std::string config_file, data_dir, nats, listen, interval, ttl, prefix, level, user, password;
  app.add_option("--config", config_file, "TOML config file; flags override it");
  app.add_option("--data-dir", data_dir, "state directory (database, admin.token) [" + c.data_dir + "]");
  app.add_option("--nats", nats, "NATS server URL [" + c.nats_url + "]");
  app.add_option("--nats-user", user, "NATS user name");
  app.add_option("--nats-password", password, "NATS password");
  app.add_option("--listen", listen, "HTTP API address HOST:PORT [" + c.listen + "]");
  app.add_option("--heartbeat-interval", interval, "how often agents send heartbeats [2s]");
  app.add_option("--heartbeat-ttl", ttl, "a machine without heartbeat this long is lost [10s]");
  app.add_option("--subject-prefix", prefix, "bus subject prefix [av]");
  app.add_option("--log-level", level, "trace|debug|info|warn|error [info]");
  app.set_version_flag("--version", AUTOVIBE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit_code = app.exit(e);
    return out;
  }
  auto fail = [&](const Error& e) {
    std::cerr << "autovibe-controller: " << e.message << "\n";
    out.exit_code = 2;
    return out;
  };
  if (!config_file.empty()) {
    auto text = ReadFile(config_file);
    if (!text) return fail(text.error());
    if (auto r = LoadControllerConfigToml(*text, c); !r) {
      return fail(MakeError("bad_config", config_file + ": " + r.error().message));
    }
  }
  if (!data_dir.empty()) c.data_dir = data_dir;
  if (!nats.empty()) c.nats_url = nats;
  if (!user.empty()) c.nats_user = user;
  if (!password.empty()) c.nats_password = password;
  if (!listen.empty()) c.listen = listen;
  if (!prefix.empty()) c.subject_prefix = prefix;
  if (!level.empty()) c.log_level = level;
  for (auto [text, target] : {std::pair{&interval, &c.heartbeat_interval}, {&ttl, &c.heartbeat_ttl}}) {
    if (text->empty()) continue;
    auto d = ParseDuration(*text);
    if (!d) return fail(d.error());
    *target = *d;
  }
  if (auto r = ValidateControllerConfig(c); !r) return fail(r.error());
  return out;
}

}  // namespace autovibe
