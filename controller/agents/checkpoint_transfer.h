// Copies one checkpoint from one agent's store to another's through the controller (agents
// talk only on their own subjects): lists the checkpoint's objects on the source, asks the
// destination which it lacks, moves those in parts (fetch from the source, put to the
// destination), then imports the manifest. Blocking: run it off the owner thread.
#pragma once

#include <string>

#include "autovibe/v1/command.pb.h"
#include "common/bus/bus.h"
#include "common/bus/subjects.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "controller/checkpoints/checkpoint_agents.h"

namespace autovibe {

// `timeout` bounds each command the transfer sends.
Result<TransferReport> TransferCheckpoint(Bus& bus, const Subjects& subjects,
                                          const TransferRequest& request, Duration timeout);

// An agent's answer to a command (`raw`, as the bus request returned it): the reply when it
// says ok; else why not ("unavailable" when the machine did not answer or sent nonsense, else
// the code the agent gave).
Result<v1::CommandReply> ReadCommandReply(const std::string& machine,
                                          const Result<std::string>& raw);

}  // namespace autovibe
