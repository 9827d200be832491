// The controller's side of workspace checkpoints: the catalogue (every checkpoint the agents
// reported, with the machines holding a copy), and what users ask of checkpoints, carried
// out by the agents that hold them (CheckpointAgents): take one now, restore, diff, delete,
// and branch (copy a checkpoint onto another machine, moving only the objects it lacks).
// Also seeds tasks that start from a checkpoint.
//
// Owner-thread only; agents' answers and transfers come back to the owner thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/histogram.h"
#include "controller/checkpoints/checkpoint_agents.h"
#include "controller/checkpoints/task_facts.h"
#include "controller/fleet/fleet.h"
#include "controller/model/agent_event.h"
#include "controller/model/audit_log.h"
#include "controller/model/checkpoint.h"
#include "controller/model/task.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct CheckpointServiceDeps {
  boost::asio::io_context* ioc = nullptr;
  // Carries out what needs a checkpoint's store; outlives the service.
  CheckpointAgents* agents = nullptr;
  WriteBatch* batch = nullptr;
  Fleet* fleet = nullptr;
  Store* store = nullptr;
  // Copies of each task checkpoint made on other machines as it is taken (Replicate).
  int replicas = 0;
  AuditLog* audit = nullptr;  // checkpoints agents' retention removed are written here
};

struct CheckpointFilter {
  std::string machine_id;
  std::string task_id;
};

struct RestoreOutcome {
  std::string checkpoint_id;
  std::string task_id;
  std::string machine_id;
  std::optional<CheckpointRecord> before;
};

struct BranchOutcome {
  CheckpointRecord checkpoint;
  std::string machine_id;
  TransferReport transfer;
};

// What the service saw and did since the controller started (for /metrics).
struct CheckpointCounters {
  std::map<std::string, uint64_t> taken;  // checkpoints machines took, by trigger
  uint64_t stored_bytes = 0;              // compressed bytes those added to their stores
  // Copies between machines (branches and replicas): those that arrived, those that failed,
  // and the compressed bytes sent.
  uint64_t transfers = 0;
  uint64_t transfer_failures = 0;
  uint64_t transferred_bytes = 0;
  DurationHistogram restore_seconds;  // asked to answered, of restores that succeeded
  DurationHistogram branch_seconds;   // of copies that arrived
};

class CheckpointService {
 public:
  template <class T>
  using Done = std::function<void(Result<T>)>;

  explicit CheckpointService(CheckpointServiceDeps deps);
  ~CheckpointService();

  Result<void> Load();
  void Stop();

  // Applies a machine's CheckpointCreated or CheckpointsRemoved event (once per event id: the
  // caller sees to that).
  void ApplyCreated(const std::string& machine_id, const CheckpointCreatedEvent& ev,
                    const TaskFacts& tasks);
  void ApplyRemoved(const std::string& machine_id, const CheckpointsRemovedEvent& ev);

  // A machine (re)registered: it hears which of its checkpoints tasks depend on, and is asked
  // which checkpoints its store holds (Reconcile).
  void MachineRegistered(const std::string& machine_id, const TaskFacts& tasks);
  // Copies the catalogue thought `machine_id` had and its store lacks (`held` is all it has)
  // are forgotten: its store was wiped, or lost with its disk.
  void Reconcile(const std::string& machine_id, const std::set<std::string>& held);

  // In the order the controller heard of them.
  std::vector<const CheckpointRecord*> List(const CheckpointFilter& filter) const;
  const CheckpointRecord* Find(std::string_view id) const;
  std::vector<std::string> Children(std::string_view id) const;
  const CheckpointCounters& counters() const { return counters_; }

  // `tasks` is asked now and when the answer comes, so it must outlive the call.
  void Create(const std::string& machine_id, const std::string& task_id, const std::string& label,
              const TaskFacts& tasks, Done<std::vector<CheckpointRecord>> done);
  void Restore(const std::string& id, const std::string& task_id, const TaskFacts& tasks,
               Done<RestoreOutcome> done);
  // Whether a restore into the task's workspace has yet to answer.
  bool Restoring(std::string_view task_id) const { return restoring_.contains(task_id); }
  // The changes (at most the first 10,000) and how many there are in all.
  void Diff(const std::string& from, const std::string& to, Done<CheckpointDiff> done);
  void Delete(const std::string& id, const TaskFacts& tasks, Done<std::vector<std::string>> done);
  // Has a machine holding it re-hash every chunk; records when it last passed.
  void Verify(const std::string& id, Done<CheckpointRecord> done);
  // Makes checkpoint `id` present on `machine_id` (nothing moves when it is there already);
  // an empty `machine_id` picks a machine that lacks it (MachineWithout).
  void Branch(const std::string& id, const std::string& machine_id, Done<BranchOutcome> done);

  // Where a task (attempt) should start from: a requeued task from its newest checkpoint
  // still reachable somewhere, else the checkpoint it was submitted with; "" for none.
  std::string StartingPoint(const TaskRecord& t) const;
  // Checkpoints unfinished tasks depend on: the one each was submitted with, and the one each
  // would resume from (as StartingPoint chooses).
  std::set<std::string> Needed(const TaskFacts& tasks) const;
  // Tells every reachable agent (or only `machine_id`) which of its checkpoints tasks depend
  // on (PinCheckpoints): its retention leaves them alone.
  void SyncPins(const TaskFacts& tasks, const std::string& machine_id = "");

 private:
  // Why the machine's agent cannot be asked now ("unavailable"); nothing when it can.
  std::optional<Error> Unreachable(const std::string& machine_id) const;
  // `done`, dropped once the service has stopped: no answer is acted on after Stop().
  template <class T>
  Done<T> WhileAlive(Done<T> done) const {
    return [alive = alive_, done = std::move(done)](Result<T> r) {
      if (*alive) done(std::move(r));
    };
  }
  // Adds a checkpoint, or a copy of one, to the catalogue. `tasks` (when machine_id took it)
  // says where its task runs; null: machine_id received it. Null, and nothing changes, when
  // the report contradicts what is known: another root under a known id, a checkpoint of
  // another machine, or of a task that machine does not run.
  CheckpointRecord* Record(const CheckpointReport& m, const std::string& machine_id,
                           uint32_t attempt, const TaskFacts* tasks);
  void Save(const CheckpointRecord& c);
  bool Reachable(const std::string& machine_id) const;
  // Machines whose agents can answer now (ready, busy or draining) holding a copy.
  std::vector<std::string> ReachableCopies(const CheckpointRecord& c) const;
  // The task's newest checkpoint (the last the controller heard of, before_restore ones
  // aside) that a reachable machine holds; null when none. Looks at that task's checkpoints
  // only.
  const CheckpointRecord* NewestReachable(std::string_view task_id) const;
  // Whether an unfinished task starts or would resume from the checkpoint (Needed() of one).
  bool IsNeeded(const CheckpointRecord& c, const TaskFacts& tasks) const;
  // The catalogue's indexes: a copy added to or removed from a machine.
  void AddCopy(CheckpointRecord& c, const std::string& machine_id);
  void RemoveCopy(CheckpointRecord& c, const std::string& machine_id);
  void DeleteCopies(const std::string& id, std::vector<std::string> copies, size_t i,
                    Done<std::vector<std::string>> done);
  // Drops a checkpoint no machine holds any more; its children hang from its parent.
  void Forget(const std::string& id);
  // Copies a task's new checkpoint onto other machines (d_.replicas in all), so the task can
  // resume when its machine is lost. One copy per task at a time; while one runs, only the
  // newest checkpoint that came meanwhile waits for its turn.
  void Replicate(const CheckpointRecord& c);
  void ReplicateNext(const std::string& task_id, const std::string& id);
  // A machine that lacks `c` and can take it now: ready ones before busy ones, one holding
  // its parent first (least travels); "" when there is none.
  std::string MachineWithout(const CheckpointRecord& c) const;
  // MachineWithout, or "" when `c` has its copies already.
  std::string ReplicaTarget(const CheckpointRecord& c) const;

  CheckpointServiceDeps d_;
  std::map<std::string, CheckpointRecord, std::less<>> catalogue_;
  // Indexes of the catalogue, so that what a registration or a task asks costs what that
  // machine or task holds, not the size of the catalogue, the queue or the fleet.
  std::map<std::string, std::set<std::string>, std::less<>> by_task_;  // task -> checkpoints
  std::unordered_map<std::string, std::set<std::string>> by_machine_;  // machine -> copies
  // Branches in flight, by (checkpoint, machine): later askers wait for the first.
  std::map<std::pair<std::string, std::string>, std::vector<Done<BranchOutcome>>> branching_;
  // Tasks whose checkpoint is being replicated -> the newest that came meanwhile ("": none).
  std::map<std::string, std::string> replicating_;
  // Machines asked to list their checkpoints: how many lists are awaited, and the copies
  // recorded on them since the first was asked for (a list may have been made before them).
  struct Listing {
    int awaited = 0;
    std::set<std::string> recorded;
  };
  std::map<std::string, Listing> listing_;
  std::multiset<std::string, std::less<>> restoring_;  // tasks, while their restore runs
  uint64_t last_seq_ = 0;                              // the highest received_seq given
  CheckpointCounters counters_;

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  // Transfers go one at a time: two into one store at once could interleave the parts of
  // an object both send. Last: joined first.
  boost::asio::thread_pool transfers_{1};
};

}  // namespace autovibe
