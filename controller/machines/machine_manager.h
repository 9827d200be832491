// Machines the controller makes and retires: spawning into a pool through its provisioner,
// draining, terminating, boot deadlines, and the autoscaler's decisions each tick.
//
// Owner-thread only. Provisioner calls block, so they run on the manager's own threads and
// their outcome is posted back to the owner thread; the fleet (and its store) is only touched
// there. Every decision is written to the fleet's event log.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/histogram.h"
#include "common/core/time.h"
#include "controller/fleet/fleet.h"
#include "controller/fleet/machine_listener.h"
#include "controller/machines/autoscaler.h"
#include "controller/machines/machine_agents.h"
#include "controller/model/audit_log.h"
#include "controller/provisioners/pool_config.h"
#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct MachineManagerDeps {
  boost::asio::io_context* ioc = nullptr;
  Fleet* fleet = nullptr;
  Store* store = nullptr;
  MachineAgents* agents = nullptr;  // drain, shutdown and disk syncs, sent to the agents
  const Clock* clock = nullptr;
  std::string nats_url;               // what new agents connect to
  std::string nats_ca_pem;            // the CA they verify it with (PEM); empty: none
  std::string subject_prefix = "av";  // what new agents are told
  // Opens the controller's write batch before the fleet is changed.
  std::function<void()> open_batch;
  // Told when the manager changes a machine's state, and when a machine is gone for good
  // (terminated, failed): its tasks go elsewhere.
  MachineListener* listener = nullptr;
  // Tasks the scheduler has placed on the machine.
  std::function<size_t(const std::string& machine_id)> tasks_on;
  // Queued tasks that no machine took.
  std::function<std::vector<WaitingTask>()> waiting_tasks;
  // Whether the project may still spend machine time.
  std::function<bool(const std::string& project)> may_spend;
  // Bus credentials for a new machine (user, password); empty: the bus has none.
  std::function<Result<std::pair<std::string, std::string>>(const MachineRecord&)> credentials;
  // Called on a provisioning thread before the machine is created: returns once the bus
  // accepts the machine's new credentials.
  std::function<Result<void>(const AgentSettings&)> await_login;
  // Where the manager's own decisions (pools grown and shrunk, spawns that failed, machines
  // retired) are written; may be null.
  AuditLog* audit = nullptr;
};

struct SpawnRequest {
  std::string pool;             // empty: the only pool, the first of `backend`, or the checkpoint's
  std::string backend;          // optional
  std::string from_checkpoint;  // a machine checkpoint to clone the machine from
  std::string why = "requested";
};

struct PoolStatus {
  const PoolConfig* pool = nullptr;
  uint32_t live = 0;
  uint32_t starting = 0;
  int64_t spawn_paused_until_ms = 0;
  std::string last_error;
};

// Spawns since the controller started (for /metrics), by (pool, backend).
struct SpawnCounters {
  std::map<std::pair<std::string, std::string>, uint64_t> started;
  // The backend could not create the machine, or its agent never registered.
  std::map<std::pair<std::string, std::string>, uint64_t> failed;
  // By backend: from the spawn to its agent's registration.
  std::map<std::string, DurationHistogram> seconds;
};

class MachineManager {
 public:
  MachineManager(MachineManagerDeps deps, std::vector<PoolConfig> pools,
                 std::map<std::string, std::unique_ptr<Provisioner>> provisioners);
  ~MachineManager();

  // After the fleet is loaded: machines caught mid-creation by a restart are failed and
  // cleaned up; booting ones get a fresh boot deadline.
  void Load();

  // Codes: not_found (no such pool), bad_request (no pool given where several exist),
  // conflict (the pool is at max), store.
  Result<const MachineRecord*> Spawn(const SpawnRequest& req);
  // No new tasks; a pool machine is terminated once its tasks are done. Codes: not_found,
  // conflict (terminated, failed).
  Result<const MachineRecord*> Drain(const std::string& id);
  // Stops the machine now (its tasks go back to the queue) and removes its instance. A machine
  // no pool made is told to shut its agent down. Idempotent. Codes: not_found.
  Result<const MachineRecord*> Terminate(const std::string& id, const std::string& why);

  // --- machine checkpoints (backends that can take them: CanSnapshot)
  using CheckpointDone = std::function<void(Result<const MachineCheckpointRecord*>)>;
  // Takes a whole-machine checkpoint; `done` runs on the owner thread once the backend has
  // it (or failed). Codes: not_found, bad_request (the backend cannot), conflict (the machine
  // is not up).
  Result<const MachineCheckpointRecord*> CheckpointMachine(const std::string& id_or_name,
                                                           CheckpointDone done);
  const MachineCheckpointRecord* FindCheckpoint(std::string_view id) const;
  // Oldest first; `machine_id` empty: all.
  std::vector<const MachineCheckpointRecord*> Checkpoints(std::string_view machine_id) const;
  // Removes it from the backend and the catalogue; `done` runs on the owner thread. Codes:
  // not_found, conflict (still being taken).
  Result<void> DeleteCheckpoint(const std::string& id, std::function<void(Result<void>)> done);

  // Puts the machine a checkpoint was taken of back to it (backends that CanRevert): its disk
  // becomes what it was and it boots again; its tasks are lost as with any restart. `done` runs
  // on the owner thread. Codes: not_found, bad_request (the backend cannot), conflict (the
  // checkpoint is not ready, or its machine is gone).
  Result<const MachineRecord*> RevertMachine(const std::string& checkpoint_id,
                                             std::function<void(Result<void>)> done);

  // The agent of a machine registered.
  void Registered(const MachineRecord& m);
  // Once a second: boot deadlines, drained machines, the autoscaler.
  void Tick();
  // Waits for provisioner calls under way; queued ones are dropped.
  void Stop();

  Provisioner* ProvisionerOf(const std::string& pool) const;
  const PoolConfig* FindPool(const std::string& name) const;
  std::vector<PoolStatus> Pools() const;
  bool Terminating(const std::string& id) const { return terminating_.count(id) > 0; }
  const SpawnCounters& spawn_counters() const { return spawns_; }

 private:
  struct PoolState {
    PoolConfig config;
    Provisioner* provisioner = nullptr;
    uint32_t next_seq = 1;
    int64_t paused_until_ms = 0;
    int64_t backoff_ms = 0;
    std::string last_error;
  };

  PoolState* Pool(const std::string& name);
  const PoolState* Pool(const std::string& name) const;
  std::string NextName(PoolState& p);
  void Created(const std::string& id, Result<std::string> instance);
  void SpawnFailed(PoolState& p, const std::string& error);
  void Fail(const MachineRecord& m, const std::string& why);
  void Destroy(const MachineRecord& m, const std::string& why, bool then_terminate);
  void Destroyed(const std::string& id, const std::string& why, Result<void> r,
                 bool then_terminate);
  void SendCommand(const std::string& machine_id, bool shutdown);
  void Changed(const std::string& id);
  bool Live(const MachineRecord& m) const;
  void Autoscale(int64_t now);
  void CheckpointTaken(const std::string& id, Result<std::string> ref, const CheckpointDone& done);

  MachineManagerDeps d_;
  std::vector<std::unique_ptr<PoolState>> pools_;
  std::map<std::string, std::unique_ptr<Provisioner>> provisioners_;
  boost::asio::thread_pool work_{4};
  std::unordered_map<std::string, int64_t> boot_deadline_;  // machine -> ms
  std::unordered_map<std::string, int64_t> idle_since_;     // machine -> ms
  std::unordered_map<std::string, int64_t> lost_since_;     // machine -> ms
  // Removals that failed, tried again later.
  struct DestroyRetry {
    int64_t at_ms = 0;
    std::string why;
    bool then_terminate = false;
  };
  std::map<std::string, DestroyRetry> destroy_retry_at_;
  std::unordered_map<std::string, int64_t> destroy_backoff_ms_;
  std::set<std::string> terminating_;
  std::vector<std::unique_ptr<MachineCheckpointRecord>> checkpoints_;
  // Tasks that were waiting at the last tick: only those that outlived a scheduling pass
  // call for new machines.
  std::set<std::string> waiting_before_;
  SpawnCounters spawns_;
  bool stopped_ = false;
  // Cleared by Stop: answers from the bus that arrive later are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe
