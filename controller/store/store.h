// The controller's durable state. Not thread-safe: the owner thread calls it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/model/api_token.h"
#include "controller/model/checkpoint.h"
#include "controller/model/event.h"
#include "controller/model/join_token.h"
#include "controller/model/machine.h"
#include "controller/model/task.h"
#include "controller/store/audit_store.h"
#include "controller/store/budget_store.h"
#include "controller/store/webhook_store.h"

namespace autovibe {

// Projects, tasks and their output.
class TaskStore {
 public:
  virtual ~TaskStore() = default;

  virtual Result<std::vector<ProjectRecord>> LoadProjects() = 0;
  // Fails with code "conflict" when a project of that name exists.
  virtual Result<void> InsertProject(const ProjectRecord& p) = 0;
  virtual Result<void> SetProjectStopped(std::string_view name, bool stopped) = 0;
  virtual Result<void> SetProjectRepo(std::string_view name, const TaskRepo& repo) = 0;

  // Every task, in submission order.
  virtual Result<std::vector<TaskRecord>> LoadTasks() = 0;
  // Inserts or replaces the task with this id.
  virtual Result<void> SaveTask(const TaskRecord& t) = 0;

  virtual Result<void> AppendTaskLog(std::string_view task_id, const TaskLogChunk& chunk) = 0;
  // Chunks with seq > after_seq, in order, at most `limit`.
  virtual Result<std::vector<TaskLogChunk>> TaskLogs(std::string_view task_id, int64_t after_seq,
                                                     size_t limit) = 0;
  // The highest log seq of every task that has logs.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> LastLogSeqs() = 0;
  virtual Result<std::vector<StoredEvent>> TaskEvents(std::string_view task_id) = 0;
};

// The checkpoint catalogue.
class CheckpointCatalogueStore {
 public:
  virtual ~CheckpointCatalogueStore() = default;
  // Oldest first.
  virtual Result<std::vector<CheckpointRecord>> LoadCheckpoints() = 0;
  // Inserts or replaces the checkpoint with this id.
  virtual Result<void> SaveCheckpoint(const CheckpointRecord& c) = 0;
  virtual Result<void> DeleteCheckpoint(std::string_view id) = 0;
};

// One-time join tokens (sqlite_join_token_store.cc).
class JoinTokenStore {
 public:
  virtual ~JoinTokenStore() = default;
  // Oldest first.
  virtual Result<std::vector<JoinToken>> LoadJoinTokens() = 0;
  // Inserts or replaces the token with this id.
  virtual Result<void> SaveJoinToken(const JoinToken& t) = 0;
  virtual Result<void> DeleteJoinToken(std::string_view id) = 0;
};

// API tokens (sqlite_api_token_store.cc): their hashes, never their secrets.
class ApiTokenStore {
 public:
  virtual ~ApiTokenStore() = default;
  // Oldest first.
  virtual Result<std::vector<ApiToken>> LoadApiTokens() = 0;
  // Fails with code "conflict" when a token of that name exists.
  virtual Result<void> InsertApiToken(const ApiToken& t) = 0;
  virtual Result<void> SetApiTokenLastUsed(std::string_view name, int64_t at_ms) = 0;
  virtual Result<void> DeleteApiToken(std::string_view name) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::vector<MachineRecord>> LoadMachines() = 0;
  // Inserts or replaces the machine with this id.
  virtual Result<void> SaveMachine(const MachineRecord& m) = 0;
  // Writes the heartbeat fields (resources, last heartbeat) of many machines in one transaction.
  virtual Result<void> SaveHeartbeats(const std::vector<const MachineRecord*>& machines) = 0;

  // Bus credentials of the machines the controller provisioned: (machine id, password).
  virtual Result<std::vector<std::pair<std::string, std::string>>> LoadCredentials() = 0;
  virtual Result<void> SaveCredential(std::string_view machine_id, std::string_view password,
                                      int64_t at_ms) = 0;
  virtual Result<void> DeleteCredential(std::string_view machine_id) = 0;

  virtual Result<std::vector<MachineCheckpointRecord>> LoadMachineCheckpoints() = 0;
  // Inserts or replaces the machine checkpoint with this id.
  virtual Result<void> SaveMachineCheckpoint(const MachineCheckpointRecord& c) = 0;
  virtual Result<void> DeleteMachineCheckpoint(std::string_view id) = 0;

  // Appends `e` (its seq is given by the store) and tells the events observer.
  virtual Result<void> AppendEvent(const StoredEvent& e) = 0;
  virtual Result<std::vector<StoredEvent>> MachineEvents(std::string_view machine_id) = 0;
  // Up to `limit` events after seq `after`, up to seq `upto`, oldest first.
  virtual Result<std::vector<StoredEvent>> EventsAfter(int64_t after, int64_t upto,
                                                       size_t limit) = 0;
  // The last `limit` events up to seq `upto` (of `project` only, when given), oldest first.
  virtual Result<std::vector<StoredEvent>> LastEvents(int64_t upto, size_t limit,
                                                      std::optional<std::string> project) = 0;
  virtual Result<int64_t> LastEventSeq() = 0;
  // Told that an event was appended (the live events feed reads it once committed). Owner
  // thread.
  void ObserveEvents(std::function<void()> observer) { event_observer_ = std::move(observer); }

  // Records an agent event id; false if it was recorded before (the event was applied).
  virtual Result<bool> MarkAgentEventApplied(std::string_view event_id, int64_t at_ms) = 0;
  // Forgets up to `limit` agent event ids recorded before `before_ms`; returns how many.
  virtual Result<size_t> ForgetAgentEventsBefore(int64_t before_ms, size_t limit) = 0;

  virtual Result<int> SchemaVersion() = 0;

  virtual TaskStore& tasks() = 0;
  virtual BudgetStore& budgets() = 0;
  virtual CheckpointCatalogueStore& checkpoints() = 0;
  virtual JoinTokenStore& join_tokens() = 0;
  virtual ApiTokenStore& api_tokens() = 0;
  virtual WebhookStore& webhooks() = 0;
  virtual AuditStore& audit() = 0;

  // Groups the writes that follow into one transaction until Commit(). Writes outside
  // Begin/Commit commit one by one. Not nested: Begin while open does nothing.
  virtual Result<void> Begin() = 0;
  virtual Result<void> Commit() = 0;
  virtual bool InTransaction() const = 0;

  // A point inside the open transaction that one operation's writes can be undone to, when
  // the operation fails half-way, without undoing what other operations in the same
  // transaction wrote. RollbackTo leaves the savepoint in place; Release ends it.
  virtual Result<void> Savepoint(std::string_view name) = 0;
  virtual Result<void> RollbackTo(std::string_view name) = 0;
  virtual Result<void> Release(std::string_view name) = 0;

  // From now on every write is refused (SQLite's query_only), as a full or read-only database
  // would: for tests of what a failed write does.
  virtual Result<void> RefuseWritesForTest(bool refuse) = 0;

 protected:
  void EventAppended() const {
    if (event_observer_) event_observer_();
  }

 private:
  std::function<void()> event_observer_;
};

// Opens (creating if needed) the SQLite database at `path`: WAL, foreign keys on, migrated to
// the latest schema.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace autovibe
