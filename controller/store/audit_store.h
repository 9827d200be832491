// The audit log's rows (table `audit_log`, migration 13) and the anchor retention leaves
// (`audit_anchor`). Not thread-safe: the owner thread calls it. Writes join the caller's open
// transaction. SQLite triggers refuse to change a record, to remove one retention has not
// passed, or to move the anchor back: only a hand that bypasses SQLite's triggers can, and
// the hash chain shows what it did.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/audit/audit_record.h"
#include "common/core/result.h"

namespace autovibe {

// Which records a query wants; empty strings match anything.
struct AuditFilter {
  // A token's name, "controller:<rule>" for one rule of the controller, or "controller" for
  // every decision of the controller (any rule).
  std::string actor;
  std::string project;
  std::string object_kind;
  std::string object_id;
  int64_t since_ms = std::numeric_limits<int64_t>::min();  // at_ms >= since
  int64_t until_ms = std::numeric_limits<int64_t>::max();  // at_ms < until
  // Paging: records after `after_seq` (oldest first) or before `before_seq` (newest first).
  bool oldest_first = false;
  int64_t after_seq = 0;
  int64_t before_seq = std::numeric_limits<int64_t>::max();
  size_t limit = 100;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends a record; refused (kStore) unless its seq comes after every record and anchor.
  virtual Result<void> Append(const AuditRecord& r) = 0;
  // The last record's seq and hash; the anchor's when none is kept (seq 0 and "" for none).
  virtual Result<AuditAnchor> Head() = 0;
  virtual Result<AuditAnchor> Anchor() = 0;
  virtual Result<std::vector<AuditRecord>> Find(const AuditFilter& f) = 0;
  // Removes up to `limit` of the oldest records written before `before_ms` (stopping at the
  // first younger one) and moves the anchor to the last of them; returns how many went.
  virtual Result<size_t> Prune(int64_t before_ms, size_t limit) = 0;
};

}  // namespace autovibe
