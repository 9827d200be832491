#include "worker-agent/agent_config.h"

#include <unistd.h>

#include "common/core/config_file.h"
#include "common/core/flags.h"
#include "common/core/names.h"

namespace autovibe {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "agent";
  return buf;
}

}  // namespace

Result<void> LoadAgentConfigToml(std::string_view toml_text, AgentConfig& c) {
  return ForEachTomlKey(toml_text,
                        [&c](std::string_view k, const toml::node& node) -> Result<void> {
                          if (k == "nats") return TomlString(node, k, c.nats_url);
                          if (k == "nats_user") return TomlString(node, k, c.nats_user);
                          if (k == "nats_password") return TomlString(node, k, c.nats_password);
                          if (k == "name") return TomlString(node, k, c.name);
                          if (k == "data_dir") return TomlString(node, k, c.data_dir);
                          if (k == "backend") return TomlString(node, k, c.backend);
                          if (k == "subject_prefix") return TomlString(node, k, c.subject_prefix);
                          if (k == "log_level") return TomlString(node, k, c.log_level);
                          if (k == "labels") return TomlStringTable(node, k, c.labels);
                          if (k == "upstreams") return TomlStringTable(node, k, c.upstreams);
                          return UnknownKey(k);
                        });
}

Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return MakeError("bad_config", "expected key=value, got \"" + std::string(text) + "\"");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<void> ValidateAgentConfig(const AgentConfig& c) {
  if (!ValidMachineName(c.name)) {
    return MakeError("bad_config", "invalid name \"" + c.name +
                                       "\": use 1-63 letters, digits, '.', '_' or '-' (--name)");
  }
  if (!ValidSubjectToken(c.subject_prefix)) {
    return MakeError("bad_config", "subject_prefix must be one NATS token (no '.', '*', '>')");
  }
  if (!ValidLogLevel(c.log_level)) {
    return MakeError("bad_config", "log_level must be one of trace, debug, info, warn, error");
  }
  if (c.data_dir.empty()) return MakeError("bad_config", "data_dir must not be empty");
  return {};
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
  app.add_option("--upstream", upstreams,
                 "LLM upstream provider=URL or provider=mock (repeatable)");
  app.add_option("--backend", backend, "how this machine was made (set by provisioners) [manual]");
  app.add_option("--subject-prefix", prefix, "bus subject prefix [av]");
  app.add_option("--log-level", level, "trace|debug|info|warn|error [info]");
  app.set_version_flag("--version", AUTOVIBE_VERSION);
  if (auto code = ParseFlags(app, argc, argv)) {
    out.exit_code = *code;
    return out;
  }
  auto fail = [&](const Error& e) {
    out.exit_code = ReportConfigError("autovibe-agent", e);
    return out;
  };
  auto loaded = LoadConfigFlag(
      config_file, [&c](std::string_view text) { return LoadAgentConfigToml(text, c); });
  if (!loaded) return fail(loaded.error());
  Override(c.nats_url, nats);
  Override(c.nats_user, user);
  Override(c.nats_password, password);
  Override(c.name, name);
  Override(c.data_dir, data_dir);
  Override(c.backend, backend);
  Override(c.subject_prefix, prefix);
  Override(c.log_level, level);
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
  if (auto r = ValidateAgentConfig(c); !r) return fail(r.error());
  return out;
}

}  // namespace autovibe
