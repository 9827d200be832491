// What the machine manager asks of a machine's agent; agents/machine_commands.h sends it over
// the bus. Owner-thread only.
#pragma once

#include <functional>
#include <string>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

class MachineAgents {
 public:
  virtual ~MachineAgents() = default;
  // Fire and forget: the agent takes no new task (drain), or stops (shutdown). A lost order
  // is given again by the manager's next decision about the machine.
  virtual void Drain(const std::string& machine_id) = 0;
  virtual void Shutdown(const std::string& machine_id) = 0;
  // The agent writes out what the machine holds in memory for its disks. `done` runs once on
  // the owner thread: ok, or why the agent did not answer within `timeout`.
  virtual void SyncDisks(const std::string& machine_id, Duration timeout,
                         std::function<void(Result<void>)> done) = 0;
};

}  // namespace autovibe
