// How many machines each pool should gain or lose: pure arithmetic over what the controller
// sees, so it is fast and testable. The MachineManager carries the decision out.
//
// Up: a queued task that no machine took in a scheduling pass goes to the first pool that
// serves its tool and labels and whose project may still spend machine time; each pool then
// gets enough new machines for its share (after counting the slots of machines already on
// their way), never above max, and at least min in all. Down: a ready machine with no task
// for its pool's idle_timeout is retired while the pool keeps min.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controller/provisioners/pool_config.h"

namespace autovibe {

struct PoolMachineView {
  std::string id;
  bool starting = false;      // provisioning or booting
  bool idle = false;          // ready with no task
  int64_t idle_since_ms = 0;  // when it last had a task (or came up)
};

struct PoolView {
  const PoolConfig* pool = nullptr;
  std::vector<PoolMachineView> machines;  // not terminated, failed or on their way out
  bool spawn_paused = false;              // backing off after failed spawns
};

struct WaitingTask {
  std::string id;
  std::string project;
  std::string tool;
  std::map<std::string, std::string> labels;
};

struct ScaleDecision {
  std::map<std::string, uint32_t> spawn;  // pool -> new machines
  std::vector<std::string> retire;        // machine ids
};

ScaleDecision DecideScaling(const std::vector<PoolView>& pools,
                            const std::vector<WaitingTask>& waiting,
                            const std::function<bool(const std::string& project)>& may_spend,
                            int64_t now_ms);

}  // namespace autovibe
