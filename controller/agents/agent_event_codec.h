// Agents' protobuf messages (events, registrations, heartbeats, checkpoint manifests) turned
// into the controller's own structs (model/), at the bus edge.
#pragma once

#include <optional>

#include "autovibe/v1/budget.pb.h"
#include "autovibe/v1/checkpoint.pb.h"
#include "autovibe/v1/event.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "controller/model/agent_event.h"
#include "controller/model/machine.h"
#include "controller/model/usage.h"

namespace autovibe {

// Nothing for a kind the controller does not act on (AgentStarted, or one from a newer agent).
std::optional<AgentEvent> FromProto(const v1::AgentEvent& ev);
UsageReport FromProto(const v1::UsageRecord& r);
// A manifest's summary as the catalogue keeps it (the root in hex).
CheckpointReport FromProto(const v1::CheckpointManifest& m);
MachineRegistration FromProto(const v1::RegisterRequest& r);
HeartbeatReport FromProto(const v1::Heartbeat& hb);

}  // namespace autovibe
