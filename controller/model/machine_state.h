// Machine states and the transitions allowed between them (DESIGN.md, "States").
#pragma once

#include <optional>
#include <string_view>

namespace autovibe {

enum class MachineState {
  kProvisioning,
  kBooting,
  kReady,
  kBusy,
  kDraining,
  kTerminated,
  kLost,
  kFailed,
};

inline constexpr MachineState kAllMachineStates[] = {
    MachineState::kProvisioning, MachineState::kBooting,  MachineState::kReady,
    MachineState::kBusy,         MachineState::kDraining, MachineState::kTerminated,
    MachineState::kLost,         MachineState::kFailed};

std::string_view ToString(MachineState s);
std::optional<MachineState> ParseMachineState(std::string_view text);

// Whether the controller may move a machine from `from` to `to`. Staying put is not a transition.
bool CanTransition(MachineState from, MachineState to);

// The state a machine takes when its agent registers (or registers again) from `from`.
// Nothing for a terminated or failed machine: those do not come back under the same id.
std::optional<MachineState> StateOnRegister(MachineState from, bool running_tasks);

// Whether heartbeats are expected from a machine in this state (and their absence makes it lost).
bool ExpectsHeartbeats(MachineState s);

}  // namespace autovibe
