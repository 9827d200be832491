// What happens elsewhere when the fleet changes. Every path that adds, changes or loses a
// machine (registration, heartbeats, liveness, an agent's stopping notice, the machine
// manager) tells a MachineListener; the controller's wiring implements it once
// (controller/machine_reactions.h), so "a machine went away" is one list of reactions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/model/machine.h"

namespace autovibe {

enum class MachineDownCause {
  kLost,            // no heartbeat within the ttl; it may come back
  kAgentStopped,    // its agent said it is stopping; it may come back
  kAgentRestarted,  // a new agent process registered: what the old one ran is gone
  kTerminated,      // removed for good
  kFailed,          // provisioning failed, or it never booted
};

std::string_view ToString(MachineDownCause c);

class MachineListener {
 public:
  virtual ~MachineListener() = default;
  // The machine registered (or registered again) and runs `running`.
  virtual void MachineRegistered(const MachineRecord& m,
                                 const std::vector<std::string>& running) = 0;
  // Its state or settings changed otherwise (draining, booting, busy, ...).
  virtual void MachineChanged(const MachineRecord& m) = 0;
  // The machine's tasks are gone, for `cause`; `why` is said to the tasks it ran.
  virtual void MachineDown(const MachineRecord& m, MachineDownCause cause,
                           const std::string& why) = 0;
  // What a heartbeat says the machine runs.
  virtual void ReportedRunning(const std::string& machine_id,
                               const std::vector<std::string>& task_ids) = 0;
};

}  // namespace autovibe
