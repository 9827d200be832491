// The controller's durable state. Not thread-safe: the owner thread calls it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/store/machine_record.h"

namespace autovibe {

struct StoredEvent {
  int64_t seq = 0;
  int64_t at_ms = 0;
  std::string kind;  // "machine.registered", "machine.lost", ...
  std::string machine_id;
  std::string detail_json;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::vector<MachineRecord>> LoadMachines() = 0;
  // Inserts or replaces the machine with this id.
  virtual Result<void> SaveMachine(const MachineRecord& m) = 0;
  // Writes the heartbeat fields (resources, last heartbeat) of many machines in one transaction.
  virtual Result<void> SaveHeartbeats(const std::vector<const MachineRecord*>& machines) = 0;

  virtual Result<void> AppendEvent(const StoredEvent& e) = 0;
  virtual Result<std::vector<StoredEvent>> MachineEvents(std::string_view machine_id) = 0;

  // Records an agent event id; false if it was recorded before (the event was applied).
  virtual Result<bool> MarkAgentEventApplied(std::string_view event_id, int64_t at_ms) = 0;

  virtual Result<int> SchemaVersion() = 0;
};

// Opens (creating if needed) the SQLite database at `path`: WAL, foreign keys on, migrated to
// the latest schema.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace autovibe
