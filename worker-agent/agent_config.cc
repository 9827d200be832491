#include "worker-agent/agent_config.h"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/bus/bus_tls_config.h"
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

Result<void> TomlCount(const toml::node& n, std::string_view key, uint64_t& out) {
  auto v = n.value_exact<int64_t>();
  if (!v || *v < 0) {
    return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a non-negative integer");
  }
  out = static_cast<uint64_t>(*v);
  return {};
}

Result<void> TomlSlots(const toml::node& n, std::string_view key, uint32_t& out) {
  uint64_t v = 0;
  if (auto r = TomlCount(n, key, v); !r) return r;
  // Out of range values are refused by ValidateAgentConfig; keep them visible, not wrapped.
  out = static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
  return {};
}

Result<void> TomlLimits(const toml::node& n, std::string_view key, ResourceLimits& l) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a table");
  for (auto& [k, v] : *t) {
    const std::string name = std::string(key) + "." + std::string(k.str());
    Result<void> r;
    if (k == "address_space_bytes") {
      r = TomlCount(v, name, l.address_space_bytes);
    } else if (k == "cpu_seconds") {
      r = TomlCount(v, name, l.cpu_seconds);
    } else if (k == "file_size_bytes") {
      r = TomlCount(v, name, l.file_size_bytes);
    } else if (k == "open_files") {
      r = TomlCount(v, name, l.open_files);
    } else if (k == "processes") {
      r = TomlCount(v, name, l.processes);
    } else if (k == "core_dumps") {
      auto b = v.value_exact<bool>();
      if (!b) return MakeError(ErrorCode::kBadConfig, name + " must be true or false");
      l.no_core_dumps = !*b;
    } else {
      return UnknownKey(name);
    }
    if (!r) return r;
  }
  return {};
}

Result<void> TomlCheckpoints(const toml::node& n, CheckpointSettings& c) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, "checkpoints must be a table");
  for (auto& [k, v] : *t) {
    const std::string name = "checkpoints." + std::string(k.str());
    Result<void> r;
    if (k == "auto_every") {
      r = TomlDuration(v, name, c.auto_every);
    } else if (k == "prune_every") {
      r = TomlDuration(v, name, c.prune_every);
    } else if (k == "at_task_end") {
      auto b = v.value_exact<bool>();
      if (!b) return MakeError(ErrorCode::kBadConfig, name + " must be true or false");
      c.at_task_end = *b;
    } else if (k == "keep_auto") {
      r = TomlSlots(v, name, c.keep_auto);
    } else if (k == "keep_days") {
      r = TomlSlots(v, name, c.keep_days);
    } else {
      return UnknownKey(name);
    }
    if (!r) return r;
  }
  return {};
}

Result<void> TomlRepos(const toml::node& n, RepoSettings& r) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, "repos must be a table");
  for (auto& [k, v] : *t) {
    const std::string name = "repos." + std::string(k.str());
    Result<void> res;
    if (k == "workspace_max_age") {
      res = TomlDuration(v, name, r.workspace_max_age);
    } else if (k == "mirror_max_age") {
      res = TomlDuration(v, name, r.mirror_max_age);
    } else if (k == "min_free_percent") {
      res = TomlSlots(v, name, r.min_free_percent);
      if (res && r.min_free_percent > 90) {
        return MakeError(ErrorCode::kBadConfig, name + " must be from 0 to 90");
      }
    } else {
      return UnknownKey(name);
    }
    if (!res) return res;
  }
  return {};
}

// task_user = "per-task" | "root"; network = "host" | "proxy-only".
Result<void> TomlBoxChoice(const toml::node& n, std::string_view key, box::BoxSettings& b) {
  std::string text;
  if (auto r = TomlString(n, key, text); !r) return r;
  return ApplyBoxChoice(key, text, b);
}

}  // namespace

Result<void> ApplyBoxChoice(std::string_view key, const std::string& text, box::BoxSettings& b) {
  if (key == "task_user") {
    auto u = box::ParseTaskUser(text);
    if (!u) return u.error();
    b.task_user = *u;
    return {};
  }
  auto n = box::ParseTaskNetwork(text);
  if (!n) return n.error();
  b.network = *n;
  return {};
}

Result<void> LoadAgentConfigToml(std::string_view toml_text, AgentConfig& c) {
  return ForEachTomlKey(
      toml_text, [&c](std::string_view k, const toml::node& node) -> Result<void> {
        if (k == "nats") return TomlString(node, k, c.nats_url);
        if (k == "nats_user") return TomlString(node, k, c.nats_user);
        if (k == "nats_password") return TomlString(node, k, c.nats_password);
        if (auto r = TomlBusTls(k, node, c.nats_tls)) return *r;
        if (k == "join_token") return TomlString(node, k, c.join_token);
        if (k == "join_token_file") {
          return TomlString(node, k, c.join_token_file);
        }
        if (k == "name") return TomlString(node, k, c.name);
        if (k == "data_dir") return TomlString(node, k, c.data_dir);
        if (k == "backend") return TomlString(node, k, c.backend);
        if (k == "machine_id") return TomlString(node, k, c.machine_id);
        if (k == "subject_prefix") return TomlString(node, k, c.subject_prefix);
        if (k == "log_level") return TomlString(node, k, c.log_level);
        if (k == "labels") return TomlStringTable(node, k, c.labels);
        if (k == "upstreams") return TomlStringTable(node, k, c.upstreams);
        if (k == "task_slots") return TomlSlots(node, k, c.task_slots);
        if (k == "max_output_bytes") {
          return TomlCount(node, k, c.max_output_bytes);
        }
        if (k == "task_grace") return TomlDuration(node, k, c.task_grace);
        if (k == "task_limits") return TomlLimits(node, k, c.task_limits);
        if (k == "task_user" || k == "network") {
          return TomlBoxChoice(node, k, c.box);
        }
        if (k == "box") return box::TomlBox(node, c.box);
        if (k == "meter") return meter::TomlMeterConfig(node, c.meter);
        if (k == "checkpoints") return TomlCheckpoints(node, c.checkpoints);
        if (k == "repos") return TomlRepos(node, c.repos);
        if (k == "metrics_listen") return TomlString(node, k, c.metrics_listen);
        if (k == "metrics_allow_remote") {
          auto b = node.value_exact<bool>();
          if (!b)
            return MakeError(ErrorCode::kBadConfig, std::string(k) + " must be true or false");
          c.metrics_allow_remote = *b;
          return {};
        }
        return UnknownKey(k);
      });
}

Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return MakeError(ErrorCode::kBadConfig,
                     "expected key=value, got \"" + std::string(text) + "\"");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<void> ValidateAgentConfig(const AgentConfig& c) {
  if (!c.machine_id.empty() &&
      (c.machine_id.size() != 14 || !c.machine_id.starts_with("m-") ||
       c.machine_id.find_first_not_of("0123456789abcdef", 2) != std::string::npos)) {
    return MakeError(ErrorCode::kBadConfig, "machine_id must look like m-0123456789ab");
  }
  if (!ValidMachineName(c.name)) {
    return MakeError(
        ErrorCode::kBadConfig,
        "invalid name \"" + c.name + "\": use 1-63 letters, digits, '.', '_' or '-' (--name)");
  }
  if (!ValidSubjectToken(c.subject_prefix)) {
    return MakeError(ErrorCode::kBadConfig,
                     "subject_prefix must be one NATS token (no '.', '*', '>')");
  }
  if (!ValidLogLevel(c.log_level)) {
    return MakeError(ErrorCode::kBadConfig,
                     "log_level must be one of trace, debug, info, warn, error");
  }
  if (c.data_dir.empty()) return MakeError(ErrorCode::kBadConfig, "data_dir must not be empty");
  if (auto r = meter::ValidateMeterConfig(c.meter, c.upstreams); !r) return r;
  if (auto r = CheckMetricsListen(c.metrics_listen, c.metrics_allow_remote); !r) return r;
  return ValidateTaskSettings(c);
}

Result<void> ValidateTaskSettings(const AgentConfig& c) {
  // The controller refuses more than 1024 slots at registration; say so here, at start.
  if (c.task_slots < 1 || c.task_slots > 1024) {
    return MakeError(ErrorCode::kBadConfig, "task_slots must be 1-1024 (--task-slots)");
  }
  if (c.max_output_bytes < 4096 || c.max_output_bytes > (uint64_t{1} << 32)) {
    return MakeError(ErrorCode::kBadConfig, "max_output_bytes must be between 4096 and 4294967296");
  }
  if (c.task_grace < std::chrono::milliseconds(100) || c.task_grace > std::chrono::minutes(10)) {
    return MakeError(ErrorCode::kBadConfig,
                     "task_grace must be between 100ms and 10m (--task-grace)");
  }
  if (c.checkpoints.auto_every.count() < 0 || c.checkpoints.prune_every.count() <= 0) {
    return MakeError(ErrorCode::kBadConfig,
                     "checkpoints.auto_every must be 0 or more, prune_every more");
  }
  const ResourceLimits& l = c.task_limits;
  // Below these no coding tool (node, python, git) even starts; 0 keeps the agent's limit.
  if (l.address_space_bytes != 0 && l.address_space_bytes < (uint64_t{256} << 20)) {
    return MakeError(ErrorCode::kBadConfig,
                     "task_limits.address_space_bytes must be 0 or at least 256 MiB");
  }
  if (l.open_files != 0 && l.open_files < 64) {
    return MakeError(ErrorCode::kBadConfig, "task_limits.open_files must be 0 or at least 64");
  }
  if (l.processes != 0 && l.processes < 16) {
    return MakeError(ErrorCode::kBadConfig, "task_limits.processes must be 0 or at least 16");
  }
  return box::ValidateBoxSettings(c.box, c.task_slots);
}

ParsedAgentArgs ParseAgentArgs(int argc, char** argv) {
  ParsedAgentArgs out;
  AgentConfig& c = out.config;
  CLI::App app{"autovibe-agent: reports this machine to the controller and runs coding tasks"};
  std::string config_file, nats, name, data_dir, backend, prefix, level, user, password, join_token,
      join_token_file;
  std::vector<std::string> labels, upstreams;
  uint32_t task_slots = 0;
  std::string task_grace, proxy_listen, prices, checkpoint_every, task_user, network,
      metrics_listen;
  bool metrics_allow_remote = false;
  app.add_option("--config", config_file, "TOML config file; flags override it");
  app.add_option("--nats", nats, "NATS server URL [" + c.nats_url + "]");
  app.add_option("--nats-user", user, "NATS user name");
  app.add_option("--nats-password", password, "NATS password");
  BusTls tls_flags;
  AddBusTlsFlags(app, tls_flags);
  app.add_option("--join-token", join_token,
                 "one-time join token (autovibe machines join-token create): exchanged at the "
                 "first start for a bus user of this machine's own, kept in the data dir");
  app.add_option("--join-token-file", join_token_file, "a file holding the join token");
  app.add_option("--name", name, "machine name [host name]");
  app.add_option("--data-dir", data_dir, "state directory [" + c.data_dir + "]");
  app.add_option("--label", labels, "label k=v (repeatable)");
  app.add_option("--upstream", upstreams,
                 "LLM upstream provider=URL or provider=mock (repeatable)");
  app.add_option("--proxy-listen", proxy_listen,
                 "metering proxy address HOST:PORT [" + c.meter.listen + "]");
  app.add_option("--prices", prices, "model price table (TOML) [built in]");
  app.add_option("--metrics-listen", metrics_listen,
                 "serve the agent's metrics (Prometheus text, GET /metrics) on HOST:PORT, a "
                 "loopback address [off]");
  app.add_flag("--metrics-allow-remote", metrics_allow_remote,
               "let --metrics-listen be an address other than loopback");
  app.add_option("--backend", backend, "how this machine was made (set by provisioners) [manual]");
  app.add_option("--subject-prefix", prefix, "bus subject prefix [av]");
  app.add_option("--log-level", level, "trace|debug|info|warn|error [info]");
  CLI::Option* slots_flag =
      app.add_option("--task-slots", task_slots, "tasks this machine runs at once [1]");
  app.add_option("--task-grace", task_grace,
                 "SIGTERM to SIGKILL of a cancelled task that gives no grace of its own [5s]");
  app.add_option("--checkpoint-every", checkpoint_every,
                 "at most one automatic workspace checkpoint per task this often, after LLM "
                 "responses; 0 for none [30s]");
  app.add_option("--task-user", task_user,
                 "per-task: each task its own user and box; root: as the agent, for trusted "
                 "work [per-task]");
  app.add_option("--network", network,
                 "host: tasks use the machine's network; proxy-only: they reach only the "
                 "metering proxy [host]");
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
  c.config_file = config_file;
  for (auto [key, flag] : {std::pair{"task_user", &task_user}, std::pair{"network", &network}}) {
    if (flag->empty()) continue;
    if (auto r = ApplyBoxChoice(key, *flag, c.box); !r) return fail(r.error());
  }
  Override(c.nats_url, nats);
  Override(c.nats_user, user);
  Override(c.nats_password, password);
  ApplyBusTlsFlags(tls_flags, c.nats_tls);
  Override(c.join_token, join_token);
  Override(c.join_token_file, join_token_file);
  Override(c.name, name);
  Override(c.data_dir, data_dir);
  Override(c.backend, backend);
  Override(c.subject_prefix, prefix);
  Override(c.log_level, level);
  Override(c.meter.listen, proxy_listen);
  Override(c.meter.prices_file, prices);
  Override(c.metrics_listen, metrics_listen);
  if (metrics_allow_remote) c.metrics_allow_remote = true;
  if (slots_flag->count() > 0) c.task_slots = task_slots;
  if (!task_grace.empty()) {
    auto d = ParseDuration(task_grace);
    if (!d) return fail(MakeError(ErrorCode::kBadConfig, "--task-grace: " + d.error().message));
    c.task_grace = *d;
  }
  if (!checkpoint_every.empty()) {
    auto d = ParseDuration(checkpoint_every);
    if (!d)
      return fail(MakeError(ErrorCode::kBadConfig, "--checkpoint-every: " + d.error().message));
    c.checkpoints.auto_every = *d;
  }
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
