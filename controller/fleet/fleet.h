// The machine registry: who is in the fleet, in what state, with what resources.
//
// Not thread-safe: one owner thread calls every method. Decisions that change a machine's
// state are written to the store and recorded as events before the call returns; heartbeat
// fields are kept in memory and written in batches by Flush().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/duration.h"
#include "common/core/names.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/store/store.h"

namespace autovibe {

struct FleetOptions {
  Duration heartbeat_interval = std::chrono::seconds(2);
  Duration heartbeat_ttl = std::chrono::seconds(10);
  std::string subject_prefix = "av";
};

struct FleetCounters {
  uint64_t registrations = 0;
  uint64_t heartbeats = 0;
  uint64_t heartbeats_unknown = 0;  // from machines the fleet does not know (or lost)
  uint64_t heartbeats_stale = 0;    // older than one already applied
  uint64_t lost = 0;
  // Messages that decoded but made no sense: reason -> count.
  std::map<std::string, uint64_t> invalid;
};

// What became of a registration.
struct RegisterOutcome {
  bool accepted = false;
  std::string machine_id;  // when accepted
  std::string error;       // why not, in words the agent logs
  // A known machine registered from a new agent process: whatever its old process ran is gone.
  bool agent_restarted = false;
};

enum class HeartbeatOutcome {
  kApplied,
  kInvalid,
  kUnknownMachine,  // the agent should register (again)
};

class Fleet {
 public:
  Fleet(Store& store, const Clock& clock, FleetOptions options);

  // Loads the machines from the store. Machines that were alive get a fresh heartbeat
  // deadline from now, so a controller restart does not declare the fleet lost.
  Result<void> Load();

  // A registration; invalid input is refused with a reason and changes nothing.
  RegisterOutcome Register(const MachineRegistration& req);

  HeartbeatOutcome Heartbeat(const HeartbeatReport& hb);

  // Gives every machine a deadline of at least now + ttl (while the controller is cut off
  // from the bus, silence says nothing about the machines).
  void RefreshDeadlines();

  // Marks machines whose heartbeat is overdue as lost. Returns their ids.
  std::vector<std::string> CheckLiveness();

  // The agent said it is stopping, at `at_ms` by its clock: the machine is lost now rather
  // than a heartbeat ttl later. False when the machine is unknown, already not expecting
  // heartbeats, or registered again after `at_ms` (the notice is stale).
  bool AgentStopped(std::string_view id, int64_t at_ms, std::string_view why);

  // A machine the controller provisions itself joins the fleet in state provisioning, under
  // a name no other machine has; its agent registers under that name once it runs. Codes:
  // conflict (the name is taken), store.
  Result<const MachineRecord*> AddProvisioned(MachineRecord m);
  // Moves a machine to `to` (the transitions of machine_state.h), written down with `why`.
  // Codes: not_found, conflict (not allowed from its state), store.
  Result<void> Transition(std::string_view id, MachineState to, std::string_view why);
  // The backend's handle on the machine's instance, once it exists.
  Result<void> SetInstance(std::string_view id, std::string instance);
  const MachineRecord* FindByName(std::string_view name) const;

  // Ready <-> busy, as the scheduler fills and frees the machine's task slots. In memory only:
  // after a restart it is worked out again from the tasks.
  void SetBusy(std::string_view id, bool busy);

  // Writes heartbeat fields changed since they were last written: at most `max_rows` rows
  // per call, resuming where the previous call stopped, so the owner thread never stalls on
  // one big transaction. Returns true once every changed row is written.
  Result<bool> FlushSome(size_t max_rows);
  // Writes every changed row.
  Result<void> Flush();

  // Machines in registration order.
  std::vector<const MachineRecord*> List() const;
  const MachineRecord* Find(std::string_view id) const;

  const FleetCounters& counters() const { return counters_; }
  const FleetOptions& options() const { return options_; }

 private:
  struct Entry {
    MachineRecord record;
    int64_t deadline_ms = 0;  // lost when now passes this
    uint64_t last_sequence = 0;
    bool dirty = false;
  };

  Result<void> SetState(Entry& e, MachineState to, std::string_view why);
  void Record(std::string_view kind, const std::string& machine_id, std::string detail_json);
  RegisterOutcome Refuse(std::string_view reason, std::string message);

  Store& store_;
  const Clock& clock_;
  FleetOptions options_;
  std::vector<std::unique_ptr<Entry>> machines_;  // registration order
  std::unordered_map<std::string, Entry*> by_id_;
  std::unordered_map<std::string, Entry*> by_name_;
  FleetCounters counters_;
  size_t flush_cursor_ = 0;  // index into machines_ where FlushSome resumes
};

}  // namespace autovibe
