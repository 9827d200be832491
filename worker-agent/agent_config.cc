#include "worker-agent/agent_config.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>
#include <unistd.h>

#include <iostream>

#include "common/core/files.h"

namespace autovibe {
namespace {

Result<void> SetString(const toml::node& n, std::string_view key, std::string& out) {
  auto v = n.value<std::string>();
  if (!v) return MakeError("bad_config", std::string(key) + " must be a string");
  out = *v;
  return {};
}

Result<void> SetTable(const toml::node& n, std::string_view key,
                      std::map<std::string, std::string>& out) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return MakeError("bad_config", std::string(key) + " must be a table");
  for (auto& [k, v] : *t) {
    auto s = v.value<std::string>();
    if (!s) {
      return MakeError("bad_config",
                       std::string(key) + "." + std::string(k.str()) + " must be a string");
    }
    out[std::string(k.str())] = *s;
  }
  return {};
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "agent";
  return buf;
}

}  // namespace

Result<void> LoadAgentConfigToml(std::string_view toml_text, AgentConfig& c) {
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
    if (k == "nats") r = SetString(node, k, c.nats_url);
    else if (k == "nats_user") r = SetString(node, k, c.nats_user);
    else if (k == "nats_password") r = SetString(node, k, c.nats_password);
    else if (k == "name") r = SetString(node, k, c.name);
    else if (k == "data_dir") r = SetString(node, k, c.data_dir);
    else if (k == "backend") r = SetString(node, k, c.backend);
    else if (k == "subject_prefix") r = SetString(node, k, c.subject_prefix);
    else if (k == "log_level") r = SetString(node, k, c.log_level);
    else if (k == "labels") r = SetTable(node, k, c.labels);
    else if (k == "upstreams") r = SetTable(node, k, c.upstreams);
    else r = MakeError("bad_config", "unknown config key \"" + std::string(k) + "\"");
    if (!r) return r;
  }
  return {};
}

Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return MakeError("bad_config", "expected key=value, got \"" + std::string(text) + "\"");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

ParsedAgentArgs ParseAgentArgs(int argc, char** argv) {
  ParsedAgentArgs out;
  AgentConfig& c = out.config;
  CLI::App app{"autovibe-agent: reports this machine to the controller and runs coding tasks"};
  std::string config_file, nats, name, data_dir, backend, prefix, level, user, password;
  std::vector<std::string> labels, upstreams;
  app.add_option("--config", config_file, "TOML config file; flags override it");
  app.add_option("--nats", nats, "NATS server URL [" + c.nats_url + "]");
  app.add_option("--nats-user", user, "NATS user name");
  app.add_option("--nats-password", password, "NATS password");
  app.add_option("--name", name, "machine name [host name]");
  app.add_option("--data-dir", data_dir, "state directory [" + c.data_dir + "]");
  app.add_option("--label", labels, "label k=v (repeatable)");
  app.add_option("--upstream", upstreams, "LLM upstream provider=URL or provider=mock (repeatable)");
  app.add_option("--backend", backend, "how this machine was made (set by provisioners) [manual]");
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
    std::cerr << "autovibe-agent: " << e.message << "\n";
    out.exit_code = 2;
    return out;
  };
  if (!config_file.empty()) {
    auto text = ReadFile(config_file);
    if (!text) return fail(text.error());
    if (auto r = LoadAgentConfigToml(*text, c); !r) {
      return fail(MakeError("bad_config", config_file + ": " + r.error().message));
    }
  }
  if (!nats.empty()) c.nats_url = nats;
  if (!user.empty()) c.nats_user = user;
  if (!password.empty()) c.nats_password = password;
  if (!name.empty()) c.name = name;
  if (!data_dir.empty()) c.data_dir = data_dir;
  if (!backend.empty()) c.backend = backend;
  if (!prefix.empty()) c.subject_prefix = prefix;
  if (!level.empty()) c.log_level = level;
  for (const auto& l : labels) {
    auto kv = ParseKeyValue(l);
    if (!kv) return fail(kv.error());
    c.labels[kv->first] = kv->second;
  }
  for (const auto& u : upstreams) {
    auto kv = ParseKeyValue(u);
    if (!kv) return fail(kv.error());
    c.upstreams[kv->first] = kv->second;
  }
  if (c.name.empty()) c.name = HostName();
  return out;
}

}  // namespace autovibe
