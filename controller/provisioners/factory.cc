#include "controller/provisioners/factory.h"

#include <unistd.h>

#include <filesystem>

#include "controller/provisioners/docker_provisioner.h"
#include "controller/provisioners/local_provisioner.h"

namespace autovibe {
namespace {

Error Bad(const PoolConfig& pool, const std::string& message) {
  return MakeError("bad_config", "pool " + pool.name + " [pool." + pool.backend + "]: " + message);
}

// Copies the string values of `table` into `out` by key; any other key is an error.
Result<void> ReadStrings(const PoolConfig& pool,
                         std::initializer_list<std::pair<std::string_view, std::string*>> keys) {
  for (auto&& [k, v] : pool.backend_settings) {
    bool known = false;
    for (auto& [name, out] : keys) {
      if (k.str() != name) continue;
      known = true;
      auto s = v.value<std::string>();
      if (!s) return Bad(pool, std::string(name) + " must be a string");
      *out = *s;
    }
    if (!known) return Bad(pool, "unknown key \"" + std::string(k.str()) + "\"");
  }
  return {};
}

std::string SlotsToml(const PoolConfig& pool) {
  // Before the pool's own settings: a key after a [table] header would belong to the table.
  return "task_slots = " + std::to_string(pool.task_slots) + "\n" + pool.agent_toml;
}

}  // namespace

std::string SelfDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

Result<std::unique_ptr<Provisioner>> MakeProvisioner(const PoolConfig& pool,
                                                     const ProvisionerContext& context) {
  if (pool.backend == "local") {
    LocalBackendOptions o;
    o.agent_binary = context.agent_binary;
    o.machines_dir = context.data_dir + "/machines";
    if (auto r = ReadStrings(pool, {{"agent", &o.agent_binary}, {"machines_dir", &o.machines_dir}});
        !r) {
      return r.error();
    }
    if (access(o.agent_binary.c_str(), X_OK) != 0) {
      return Bad(pool, "agent " + o.agent_binary + " is not an executable file");
    }
    o.agent_toml = SlotsToml(pool);
    return MakeLocalProvisioner(std::move(o));
  }
  if (pool.backend == "docker") {
    DockerBackendOptions o;
    o.machines_dir = context.data_dir + "/machines";
    if (auto r = ReadStrings(pool, {{"socket", &o.socket},
                                    {"image", &o.image},
                                    {"network", &o.network},
                                    {"agent_path", &o.agent_path},
                                    {"machines_dir", &o.machines_dir},
                                    {"snapshot_repo", &o.snapshot_repo}});
        !r) {
      return r.error();
    }
    o.agent_toml = SlotsToml(pool);
    return MakeDockerProvisioner(std::move(o));
  }
  return MakeError("unavailable", "pool " + pool.name + ": the " + pool.backend +
                                      " backend is not available in this build yet");
}

}  // namespace autovibe
