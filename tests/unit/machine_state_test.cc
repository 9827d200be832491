#include "controller/model/machine_state.h"

#include <catch2/catch.hpp>

using namespace autovibe;
using S = MachineState;

TEST_CASE("machine state names round-trip and unknown names are refused") {
  for (S s : kAllMachineStates) CHECK(ParseMachineState(ToString(s)) == s);
  CHECK_FALSE(ParseMachineState("READY"));
  CHECK_FALSE(ParseMachineState(""));
}

TEST_CASE("the machine lifecycle of DESIGN.md is allowed") {
  CHECK(CanTransition(S::kProvisioning, S::kBooting));
  CHECK(CanTransition(S::kBooting, S::kReady));
  CHECK(CanTransition(S::kReady, S::kBusy));
  CHECK(CanTransition(S::kBusy, S::kReady));
  CHECK(CanTransition(S::kReady, S::kDraining));
  CHECK(CanTransition(S::kDraining, S::kTerminated));
  CHECK(CanTransition(S::kReady, S::kLost));
  CHECK(CanTransition(S::kLost, S::kReady));
  CHECK(CanTransition(S::kProvisioning, S::kFailed));
  CHECK(CanTransition(S::kFailed, S::kTerminated));
}

TEST_CASE("impossible machine transitions are refused") {
  CHECK_FALSE(CanTransition(S::kTerminated, S::kReady));
  CHECK_FALSE(CanTransition(S::kTerminated, S::kTerminated));
  CHECK_FALSE(CanTransition(S::kFailed, S::kReady));
  CHECK_FALSE(CanTransition(S::kDraining, S::kReady));
  CHECK_FALSE(CanTransition(S::kProvisioning, S::kReady));
  CHECK_FALSE(CanTransition(S::kReady, S::kReady));
  CHECK_FALSE(CanTransition(S::kLost, S::kProvisioning));
}

TEST_CASE("registering decides the state from what the machine was") {
  CHECK(StateOnRegister(S::kLost, false) == S::kReady);
  CHECK(StateOnRegister(S::kLost, true) == S::kBusy);
  CHECK(StateOnRegister(S::kReady, false) == S::kReady);
  CHECK(StateOnRegister(S::kDraining, false) == S::kDraining);
  CHECK_FALSE(StateOnRegister(S::kTerminated, false));
  CHECK_FALSE(StateOnRegister(S::kFailed, false));
  CHECK(ExpectsHeartbeats(S::kReady));
  CHECK_FALSE(ExpectsHeartbeats(S::kLost));
  CHECK_FALSE(ExpectsHeartbeats(S::kTerminated));
}
