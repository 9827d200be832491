// What the checkpoint service asks of the agents whose stores hold checkpoints: take one now,
// restore, diff, delete, verify, list what a store holds, pin, and copy a checkpoint from one
// machine's store to another's. The bus edge (agents/checkpoint_agents.h) carries these as
// commands on <prefix>.cmd.<m>; the service sees only the model's structs.
//
// Threads: every method but Transfer is called on the owner thread; each `done` runs once,
// later (never within the call), on the owner thread. Transfer blocks and is called off it.
// Errors: "unavailable" when the machine did not answer (timeout, no agent listening, an
// undecodable reply), else the code the agent answered with ("not_found", "corrupt", ...;
// "failed" when it gave none). The caller checks that the machine can be reached before it
// asks: these methods send whatever they are given.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "controller/model/agent_event.h"
#include "controller/model/checkpoint.h"

namespace autovibe {

struct TransferRequest {
  std::string checkpoint_id;
  std::string from_machine;
  std::string to_machine;
  std::string expected_root;  // hex, as the catalogue has it: the source's must be the same
  // Set (by another thread) to give up between two commands.
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

struct TransferReport {
  CheckpointReport checkpoint;  // as the destination imported it
  uint64_t objects = 0;         // in the checkpoint
  uint64_t sent_objects = 0;    // the destination lacked
  uint64_t sent_bytes = 0;      // compressed, as they travelled
};

class CheckpointAgents {
 public:
  template <class T>
  using Done = std::function<void(Result<T>)>;

  virtual ~CheckpointAgents() = default;

  // Checkpoints `task_id`'s workspace on the machine ("": every task it runs). `done` gets the
  // checkpoints taken, also reported as CheckpointCreated events.
  virtual void TakeCheckpoint(const std::string& machine_id, const std::string& task_id,
                              const std::string& label,
                              Done<std::vector<CheckpointReport>> done) = 0;
  // Writes checkpoint `checkpoint_id` into `task_id`'s workspace on the machine. `done` gets
  // the checkpoint the agent took of the workspace first (none when it was unchanged).
  virtual void Restore(const std::string& machine_id, const std::string& checkpoint_id,
                       const std::string& task_id, Done<std::vector<CheckpointReport>> done) = 0;
  // The changes from `from` to `to`, both held by the machine.
  virtual void Diff(const std::string& machine_id, const std::string& from, const std::string& to,
                    Done<CheckpointDiff> done) = 0;
  // Removes the checkpoint from the machine's store ("not_found": it was not there).
  virtual void Delete(const std::string& machine_id, const std::string& checkpoint_id,
                      Done<void> done) = 0;
  // Has the machine re-hash every chunk of the checkpoint ("corrupt" when one is wrong).
  virtual void Verify(const std::string& machine_id, const std::string& checkpoint_id,
                      Done<void> done) = 0;
  // The ids of every checkpoint the machine's store holds when the question reaches it.
  virtual void ListHeld(const std::string& machine_id, Done<std::vector<std::string>> done) = 0;
  // Tells the machine which of its checkpoints tasks depend on (the whole set: an empty one
  // unpins all); its retention leaves them alone. Fire and forget: the caller repeats it.
  virtual void Pin(const std::string& machine_id,
                   const std::vector<std::string>& checkpoint_ids) = 0;

  // Copies the checkpoint from one machine's store to the other's, moving only the objects
  // the destination lacks. Blocks for as long as that takes: call it off the owner thread; may
  // be called from any one thread at a time. "conflict" when the source's copy is not the one
  // the catalogue has (another root); "unavailable" also when `cancelled` was set.
  virtual Result<TransferReport> Transfer(const TransferRequest& request) = 0;
};

}  // namespace autovibe
