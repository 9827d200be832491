// Pools of machines the controller provisions itself ([[pool]] tables of its config; see
// DESIGN.md, "Daemons").
#pragma once

#include <toml++/toml.h>

#include <map>
#include <string>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

struct PoolConfig {
  std::string name;
  std::string backend;  // local | docker | libvirt | proxmox | ssh
  uint32_t min = 0;
  uint32_t max = 1;
  // A machine with no task this long is retired (while the pool keeps at least min).
  Duration idle_timeout = std::chrono::minutes(10);
  // A machine whose agent has not registered this long after the request is marked failed
  // and cleaned up.
  Duration boot_timeout = std::chrono::minutes(5);
  std::map<std::string, std::string> labels;  // every machine of the pool carries them
  // Tools the pool's machines offer, for deciding which queued tasks a new machine would
  // serve; empty: any tool.
  std::vector<std::string> tools;
  uint32_t task_slots = 1;  // tasks each machine runs at once (written to its agent's config)
  // Written to each machine's agent config: "per-task" (each task boxed, its own user) or
  // "root" (trusted work: tasks run as the agent); "host" or "proxy-only" (tasks reach only
  // the metering proxy).
  std::string task_user = "per-task";
  std::string network = "host";
  // [pool.agent]: further agent settings (upstreams, meter, checkpoints, ...) as TOML.
  std::string agent_toml;
  // [pool.<backend>]: the backend's own settings, read by its provisioner.
  toml::table backend_settings;
};

// Reads the `pool` array of tables. Errors (bad_config) name the pool and the key.
Result<std::vector<PoolConfig>> ParsePools(const toml::node& pools);

// Whether a machine of the pool could run a task with this tool and these labels.
bool PoolServes(const PoolConfig& pool, const std::string& tool,
                const std::map<std::string, std::string>& labels);

}  // namespace autovibe
