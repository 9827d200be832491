#include "worker-agent/box/box_settings.h"

#include "common/core/config_file.h"

namespace autovibe::box {
namespace {

Error Bad(const std::string& message) { return MakeError(ErrorCode::kBadConfig, message); }

Result<void> TomlCount(const toml::node& n, const std::string& key, uint64_t max, uint64_t& out) {
  auto v = n.value_exact<int64_t>();
  if (!v || *v < 0 || static_cast<uint64_t>(*v) > max) {
    return Bad(key + " must be a whole number from 0 to " + std::to_string(max));
  }
  out = static_cast<uint64_t>(*v);
  return {};
}

Result<void> TomlPaths(const toml::node& n, const std::string& key, std::vector<std::string>& out) {
  const toml::array* a = n.as_array();
  if (a == nullptr) return Bad(key + " must be an array of absolute paths");
  for (const toml::node& item : *a) {
    auto s = item.value<std::string>();
    if (!s || s->empty() || (*s)[0] != '/') return Bad(key + " must be an array of absolute paths");
    out.push_back(*s);
  }
  return {};
}

bool Absolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

}  // namespace

Result<TaskUser> ParseTaskUser(std::string_view text) {
  if (text == "per-task") return TaskUser::kPerTask;
  if (text == "root") return TaskUser::kRoot;
  return Bad(
      "task_user must be \"per-task\" (each task its own user, boxed) or \"root\" (as the "
      "agent, for trusted work), not \"" +
      std::string(text) + "\"");
}

Result<TaskNetwork> ParseTaskNetwork(std::string_view text) {
  if (text == "host") return TaskNetwork::kHost;
  if (text == "proxy-only") return TaskNetwork::kProxyOnly;
  return Bad("network must be \"host\" or \"proxy-only\", not \"" + std::string(text) + "\"");
}

std::string_view TaskUserName(TaskUser u) { return u == TaskUser::kRoot ? "root" : "per-task"; }

std::string_view TaskNetworkName(TaskNetwork n) {
  return n == TaskNetwork::kProxyOnly ? "proxy-only" : "host";
}

Result<void> TomlBox(const toml::node& node, BoxSettings& s) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return Bad("box must be a table ([box])");
  for (auto& [k, v] : *t) {
    const std::string name = "box." + std::string(k.str());
    Result<void> r;
    uint64_t n = 0;
    if (k == "uid_base") {
      r = TomlCount(v, name, UINT32_MAX, n);
      s.uid_base = static_cast<uint32_t>(n);
    } else if (k == "bwrap") {
      r = TomlString(v, name, s.bwrap);
    } else if (k == "ro_paths") {
      r = TomlPaths(v, name, s.ro_paths);
    } else if (k == "shared_paths") {
      r = TomlPaths(v, name, s.shared_paths);
    } else if (k == "stage_dir") {
      r = TomlString(v, name, s.stage_dir);
    } else if (k == "memory_max_bytes") {
      r = TomlCount(v, name, INT64_MAX, s.memory_max_bytes);
    } else if (k == "pids_max") {
      r = TomlCount(v, name, INT64_MAX, s.pids_max);
    } else if (k == "cpu_weight") {
      r = TomlCount(v, name, 10000, n);
      s.cpu_weight = static_cast<uint32_t>(n);
    } else if (k == "cgroup_root") {
      r = TomlString(v, name, s.cgroup_root);
    } else {
      return UnknownKey(name);
    }
    if (!r) return r;
  }
  return {};
}

Result<void> ValidateBoxSettings(const BoxSettings& s, uint32_t task_slots) {
  if (s.task_user == TaskUser::kRoot) {
    if (s.network == TaskNetwork::kProxyOnly) {
      return Bad(
          "network = \"proxy-only\" needs task_user = \"per-task\": a root task could "
          "leave its network namespace");
    }
    return {};
  }
  // Below 1000 are system users; 65534 is nobody; past 2^31 some tools break.
  const uint64_t last = uint64_t{s.uid_base} + 2 * uint64_t{task_slots} - 1;
  if (s.uid_base < 1000 || (s.uid_base <= 65534 && last >= 65534) || last >= (uint64_t{1} << 31)) {
    return Bad("box.uid_base must leave uid_base .. uid_base + 2 * task_slots - 1 (" +
               std::to_string(s.uid_base) + ".." + std::to_string(last) +
               ") clear of system users (below 1000), nobody (65534) and 2^31");
  }
  if (!Absolute(s.bwrap)) return Bad("box.bwrap must be an absolute path");
  if (s.shared_paths.size() > 6) return Bad("box.shared_paths may list at most 6 directories");
  if (!Absolute(s.stage_dir) || s.stage_dir == "/") {
    return Bad("box.stage_dir must be an absolute path other than /");
  }
  if (!s.cgroup_root.empty() && !Absolute(s.cgroup_root)) {
    return Bad("box.cgroup_root must be an absolute path");
  }
  if (s.cpu_weight != 0 && s.cpu_weight > 10000) return Bad("box.cpu_weight must be 1-10000");
  if (s.memory_max_bytes != 0 && s.memory_max_bytes < (uint64_t{64} << 20)) {
    return Bad("box.memory_max_bytes must be 0 or at least 64 MiB");
  }
  if (s.pids_max != 0 && s.pids_max < 16) return Bad("box.pids_max must be 0 or at least 16");
  return {};
}

}  // namespace autovibe::box
