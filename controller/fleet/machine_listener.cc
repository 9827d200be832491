#include "controller/fleet/machine_listener.h"

namespace autovibe {

std::string_view ToString(MachineDownCause c) {
  switch (c) {
    case MachineDownCause::kLost:
      return "lost";
    case MachineDownCause::kAgentStopped:
      return "agent_stopped";
    case MachineDownCause::kAgentRestarted:
      return "agent_restarted";
    case MachineDownCause::kTerminated:
      return "terminated";
    case MachineDownCause::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace autovibe
