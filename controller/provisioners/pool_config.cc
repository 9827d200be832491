#include "controller/provisioners/pool_config.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "common/core/config_file.h"
#include "common/core/names.h"

namespace autovibe {
namespace {

constexpr std::string_view kBackends[] = {"local", "docker", "libvirt", "proxmox", "ssh"};

Error Bad(const std::string& pool, const std::string& message) {
  return MakeError(ErrorCode::kBadConfig,
                   "pool " + (pool.empty() ? std::string("?") : pool) + ": " + message);
}

Result<uint32_t> Count(const toml::node& n, std::string_view key, uint32_t max) {
  auto v = TomlWholeNumber(n);
  if (!v || *v < 0 || *v > max) {
    return MakeError(ErrorCode::kBadConfig,
                     std::string(key) + " must be a whole number from 0 to " + std::to_string(max));
  }
  return static_cast<uint32_t>(*v);
}

Result<void> ParseOne(const toml::table& t, PoolConfig& p) {
  if (auto n = t.get("name"); n != nullptr) {
    if (auto r = TomlString(*n, "name", p.name); !r) return r;
  }
  // Machines are named <pool>-<n>, and a machine name has at most 63 characters.
  if (!ValidMachineName(p.name) || p.name.size() > 52) {
    return Bad(p.name, "name must be 1-52 letters, digits, '.', '_' or '-'");
  }
  for (auto&& [key, node] : t) {
    const std::string_view k = key.str();
    Result<void> r;
    if (k == "name") continue;
    if (k == "backend") {
      r = TomlString(node, k, p.backend);
    } else if (k == "min" || k == "max" || k == "task_slots") {
      auto c = Count(node, k, k == "task_slots" ? 1024 : 10'000);
      if (!c) return Bad(p.name, c.error().message);
      (k == "min" ? p.min : k == "max" ? p.max : p.task_slots) = *c;
    } else if (k == "task_user" || k == "network") {
      std::string& out = k == "task_user" ? p.task_user : p.network;
      r = TomlString(node, k, out);
      const bool known = k == "task_user" ? (out == "per-task" || out == "root")
                                          : (out == "host" || out == "proxy-only");
      if (r && !known) {
        return Bad(p.name,
                   k == "task_user"
                       ? "task_user must be \"per-task\" or \"root\" (got \"" + out + "\")"
                       : "network must be \"host\" or \"proxy-only\" (got \"" + out + "\")");
      }
    } else if (k == "idle_timeout") {
      r = TomlDuration(node, k, p.idle_timeout);
    } else if (k == "boot_timeout") {
      r = TomlDuration(node, k, p.boot_timeout);
    } else if (k == "labels") {
      r = TomlStringTable(node, k, p.labels);
    } else if (k == "tools") {
      const toml::array* a = node.as_array();
      if (a == nullptr) return Bad(p.name, "tools must be an array of strings");
      for (const toml::node& tool : *a) {
        auto s = tool.value<std::string>();
        if (!s) return Bad(p.name, "tools must be an array of strings");
        p.tools.push_back(*s);
      }
    } else if (k == "agent") {
      const toml::table* a = node.as_table();
      if (a == nullptr) return Bad(p.name, "agent must be a table ([pool.agent])");
      for (const char* own : {"task_slots", "task_user", "network"}) {
        if (a->contains(own)) {
          return Bad(p.name, "set " + std::string(own) + " on the pool, not in [pool.agent]");
        }
      }
      std::ostringstream out;
      out << *a;
      p.agent_toml = out.str();
    } else if (std::find(std::begin(kBackends), std::end(kBackends), k) != std::end(kBackends)) {
      if (!node.is_table()) return Bad(p.name, std::string(k) + " must be a table");
    } else {
      return Bad(p.name, "unknown key \"" + std::string(k) + "\"");
    }
    if (!r) return Bad(p.name, r.error().message);
  }
  if (std::find(std::begin(kBackends), std::end(kBackends), p.backend) == std::end(kBackends)) {
    return Bad(p.name, "backend must be one of local, docker, libvirt, proxmox, ssh (got \"" +
                           p.backend + "\")");
  }
  if (const toml::table* own = t.get_as<toml::table>(p.backend); own != nullptr) {
    p.backend_settings = *own;
  }
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key != p.backend &&
        std::find(std::begin(kBackends), std::end(kBackends), key) != std::end(kBackends)) {
      return Bad(p.name,
                 "has a [pool." + std::string(key) + "] table but its backend is " + p.backend);
    }
  }
  if (p.max == 0) return Bad(p.name, "max must be at least 1");
  if (p.min > p.max) return Bad(p.name, "min must not exceed max");
  if (p.task_slots == 0) return Bad(p.name, "task_slots must be at least 1");
  if (p.task_user == "root" && p.network == "proxy-only") {
    return Bad(p.name, "network = \"proxy-only\" needs task_user = \"per-task\"");
  }
  if (p.boot_timeout < std::chrono::seconds(1)) {
    return Bad(p.name, "boot_timeout must be at least 1s");
  }
  return {};
}

}  // namespace

Result<std::vector<PoolConfig>> ParsePools(const toml::node& pools) {
  const toml::array* a = pools.as_array();
  if (a == nullptr)
    return MakeError(ErrorCode::kBadConfig, "pool must be an array of tables ([[pool]])");
  std::vector<PoolConfig> out;
  std::set<std::string> names;
  for (const toml::node& n : *a) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return MakeError(ErrorCode::kBadConfig, "each [[pool]] must be a table");
    PoolConfig p;
    if (auto r = ParseOne(*t, p); !r) return r.error();
    if (!names.insert(p.name).second) return Bad(p.name, "two pools have this name");
    out.push_back(std::move(p));
  }
  return out;
}

bool PoolServes(const PoolConfig& pool, const std::string& tool,
                const std::map<std::string, std::string>& labels) {
  if (!pool.tools.empty() &&
      std::find(pool.tools.begin(), pool.tools.end(), tool) == pool.tools.end()) {
    return false;
  }
  for (const auto& [k, v] : labels) {
    auto it = pool.labels.find(k);
    if (it == pool.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace autovibe
