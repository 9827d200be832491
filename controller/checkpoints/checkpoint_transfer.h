// Copies one checkpoint from one agent's store to another's through the controller (agents
// talk only on their own subjects): lists the checkpoint's objects on the source, asks the
// destination which it lacks, moves those in parts (fetch from the source, put to the
// destination), then imports the manifest. Blocking: run it off the owner thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "autovibe/v1/checkpoint.pb.h"
#include "autovibe/v1/command.pb.h"
#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "controller/model/agent_event.h"

namespace autovibe {

struct TransferReport {
  v1::CheckpointManifest manifest;
  uint64_t objects = 0;       // in the checkpoint
  uint64_t sent_objects = 0;  // the destination lacked
  uint64_t sent_bytes = 0;    // compressed, as they travelled
};

struct TransferRequest {
  std::string checkpoint_id;
  std::string from_machine;
  std::string to_machine;
  std::string expected_root;  // hex, as the catalogue has it: the source's must be the same
  std::string subject_prefix = "av";
  Duration timeout = std::chrono::seconds(30);  // per command
  // Set (by another thread) to give up between two commands.
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

Result<TransferReport> TransferCheckpoint(Bus& bus, const TransferRequest& request);

// An agent's answer to a command (`raw`, as the bus request returned it): the reply when it
// says ok; else why not ("unavailable" when the machine did not answer or sent nonsense, else
// the code the agent gave).
Result<v1::CommandReply> ReadCommandReply(const std::string& machine,
                                          const Result<std::string>& raw);

// A manifest's summary as the catalogue keeps it.
CheckpointReport FromProto(const v1::CheckpointManifest& m);

}  // namespace autovibe
