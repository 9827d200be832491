#include "controller/model/machine_state.h"

namespace autovibe {

std::string_view ToString(MachineState s) {
  switch (s) {
    case MachineState::kProvisioning:
      return "provisioning";
    case MachineState::kBooting:
      return "booting";
    case MachineState::kReady:
      return "ready";
    case MachineState::kBusy:
      return "busy";
    case MachineState::kDraining:
      return "draining";
    case MachineState::kTerminated:
      return "terminated";
    case MachineState::kLost:
      return "lost";
    case MachineState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<MachineState> ParseMachineState(std::string_view text) {
  for (MachineState s : kAllMachineStates) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

bool CanTransition(MachineState from, MachineState to) {
  using S = MachineState;
  if (from == to) return false;
  if (to == S::kTerminated) return from != S::kTerminated;
  switch (from) {
    case S::kProvisioning:
      return to == S::kBooting || to == S::kFailed;
    case S::kBooting:
      return to == S::kReady || to == S::kBusy || to == S::kFailed || to == S::kLost;
    case S::kReady:
      return to == S::kBusy || to == S::kDraining || to == S::kLost;
    case S::kBusy:
      return to == S::kReady || to == S::kDraining || to == S::kLost;
    case S::kDraining:
      return to == S::kLost;
    // A lost machine that comes back re-registers; one that was draining keeps draining.
    case S::kLost:
      return to == S::kReady || to == S::kBusy || to == S::kDraining;
    case S::kTerminated:
    case S::kFailed:
      return false;
  }
  return false;
}

std::optional<MachineState> StateOnRegister(MachineState from, bool running_tasks) {
  using S = MachineState;
  switch (from) {
    case S::kTerminated:
    case S::kFailed:
      return std::nullopt;
    case S::kDraining:
      return S::kDraining;
    default:
      return running_tasks ? S::kBusy : S::kReady;
  }
}

bool ExpectsHeartbeats(MachineState s) {
  // A booting machine has no agent yet: its provisioner's boot deadline watches it instead.
  return s == MachineState::kReady || s == MachineState::kBusy || s == MachineState::kDraining;
}

}  // namespace autovibe
