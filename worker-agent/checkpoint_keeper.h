// The agent's side of workspace checkpoints: owns the checkpoint store (worker-agent/snapshot/)
// on a disk thread of its own, takes checkpoints when they are due (after LLM responses,
// debounced; at task end; before a restore; on command), answers the controller's checkpoint
// commands, and reports each new or removed checkpoint as an event.
//
// Its methods are for the agent's owner thread; work on the store runs on the disk thread,
// one piece at a time, and its results come back to the owner thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "autovibe/v1/command.pb.h"
#include "common/core/duration.h"
#include "common/core/histogram.h"
#include "common/core/result.h"
#include "worker-agent/agent_config.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/task_manager.h"
#include "worker-agent/snapshot/archive_exports.h"
#include "worker-agent/snapshot/checkpoint_store.h"
#include "worker-agent/snapshot/transfer.h"

namespace autovibe {

struct CheckpointKeeperOptions {
  std::string data_dir;  // store in <data_dir>/checkpoints; workspaces/<task id>
  CheckpointSettings settings;
  snapshot::CheckpointOptions store;
};

// How long the store took, since the agent started (for the agent's /metrics).
struct CheckpointTimings {
  std::map<std::string, DurationHistogram> take;  // checkpoints taken, by trigger
  DurationHistogram restore;                      // restores and seeds that succeeded
  uint64_t failures = 0;                          // checkpoints that could not be taken
};

class CheckpointKeeper {
 public:
  using Reply = std::function<void(v1::CommandReply)>;

  // Opens the store (on the disk thread). `outbox` and `tasks` must outlive the keeper.
  static Result<std::unique_ptr<CheckpointKeeper>> Open(boost::asio::io_context& ioc,
                                                        EventOutbox& outbox, TaskManager& tasks,
                                                        CheckpointKeeperOptions options);
  // Waits for the disk thread's current piece of work; what is queued behind it is dropped.
  ~CheckpointKeeper();

  void SetMachineId(const std::string& id) { machine_id_ = id; }

  static bool Handles(const v1::Command& cmd);
  // Runs a checkpoint command; `reply` gets the answer (its ok, error and results).
  void Execute(const v1::Command& cmd, Reply reply);

  // Before a task with `from_checkpoint` starts: writes that checkpoint into its workspace.
  void Seed(const v1::RunTask& task, std::function<void(Result<void>)> done);

  // Whether a restore or seed is writing the task's workspace: its tool may not start.
  bool Busy(const std::string& task_id) const { return busy_.contains(task_id); }

  // The metering proxy answered calls of these tasks.
  void LlmResponded(const std::vector<std::string>& task_ids);
  // An attempt ended (TaskFinished sent).
  void TaskEnded(const std::string& task_id, uint32_t attempt);

  const CheckpointTimings& timings() const { return timings_; }

 private:
  // What only the disk thread touches.
  struct Disk {
    std::unique_ptr<snapshot::CheckpointStore> store;
    snapshot::PartSender sender;
    snapshot::PartReceiver receiver;
    std::string listed_id;  // the checkpoint whose objects were listed last
    std::vector<snapshot::Hash> listed;
    snapshot::ArchiveExports exports;  // ExportArchive
  };
  // A checkpoint taken on the disk thread, and how long it took.
  struct Taken {
    Result<snapshot::CreateResult> result;
    double seconds = 0;
  };
  static Taken Take(Disk& d, const snapshot::CreateRequest& r);
  struct AutoState {
    std::chrono::steady_clock::time_point last{};
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  CheckpointKeeper(boost::asio::io_context& ioc, EventOutbox& outbox, TaskManager& tasks,
                   CheckpointKeeperOptions options);
  // Runs `work(disk)` on the disk thread, then `done(result)` on the owner thread.
  template <class Work, class Done>
  void OnDisk(Work work, Done done);
  void TakeAuto(const std::string& task_id);
  void Took(const Taken& t, const std::string& task_id, uint32_t attempt);
  void Failed(const std::string& task_id, uint32_t attempt, const Error& e);
  void Emit(const v1::CheckpointManifest& m, uint32_t attempt);
  void MaybePrune();
  void CheckpointNow(const v1::Command& cmd, Reply reply);
  void Restore(const v1::Command& cmd, Reply reply);
  void RestoreWorkspace(const std::string& id, const std::string& task, uint32_t attempt,
                        std::function<void(Result<snapshot::RestoreResult>)> done);
  static Result<v1::CommandReply> DiskCommand(Disk& d, const v1::Command& cmd);

  boost::asio::io_context& ioc_;
  EventOutbox& outbox_;
  TaskManager& tasks_;
  const CheckpointKeeperOptions options_;
  std::string machine_id_;
  std::map<std::string, AutoState> auto_;  // by task id
  std::set<std::string> pinned_;           // what tasks depend on (PinCheckpoints)
  // Retention waits for the controller's first pins (sent at registration and every 30 s),
  // or, with no controller to send them, kPinsAwaited.
  bool pins_heard_ = false;
  const std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  std::set<std::string> busy_;  // tasks whose workspace a restore is writing
  // By task id: the attempt and why its last checkpoint failed (each told once).
  std::map<std::string, std::pair<uint32_t, std::string>> failures_;
  std::chrono::steady_clock::time_point last_prune_{};
  CheckpointTimings timings_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<Disk> disk_ = std::make_shared<Disk>();
  boost::asio::thread_pool pool_{1};  // the disk thread; last, so joined first
};

}  // namespace autovibe
