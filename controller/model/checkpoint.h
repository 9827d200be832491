// One checkpoint in the controller's catalogue: what an agent reported when it took it, and
// the machines whose stores hold a copy; and what changed between two checkpoints.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace autovibe {

struct CheckpointRecord {
  std::string id;
  std::string machine_id;  // where it was taken
  std::string task_id;
  uint32_t attempt = 0;
  std::string parent;
  std::string trigger;  // manual | auto | task_end | before_restore
  std::string label;
  std::string workspace;
  std::string root;  // hex SHA-256 of its root tree: every copy must have the same
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t stored_bytes = 0;
  int64_t created_at_ms = 0;  // by the agent's clock: shown, never used to order
  // The order the controller first heard of it in (1, 2, ...): "newest" means the highest,
  // whatever the agents' clocks say.
  uint64_t received_seq = 0;
  int64_t verified_at_ms = 0;    // 0: never
  std::set<std::string> copies;  // machines whose checkpoint store holds it
};

// One path that differs between two checkpoints.
struct CheckpointChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kChanged;
  std::string path;  // relative to the workspace, as the agent's store has it (bytes)
};

// What changed from one checkpoint to another: the first changes (an agent sends at most
// 10,000) and how many there are in all.
struct CheckpointDiff {
  std::vector<CheckpointChange> changes;
  uint64_t total = 0;  // at least changes.size()
};

}  // namespace autovibe
