// The audit log's hash chain: each record's hash is SHA-256 over a canonical encoding of all
// its fields, prev_hash included, so changing, removing or reordering records shows.
#pragma once

#include <optional>
#include <string>

#include "common/audit/audit_record.h"

namespace autovibe {

// Lower-case hex SHA-256 of the record's canonical encoding: a version tag, then every field
// but `hash` in a fixed order, each as its byte length, ':' and its bytes.
std::string AuditHash(const AuditRecord& r);

// Where a chain breaks: the first record that is not what the chain says, and why.
struct AuditBreak {
  int64_t seq = 0;
  std::string problem;
};

// Checks records one after another, in seq order, starting after `anchor` (the last record
// retention removed, or none). Once broken it stays broken at the first break.
class AuditChainCheck {
 public:
  explicit AuditChainCheck(AuditAnchor anchor)
      : next_seq_(anchor.seq + 1), prev_hash_(std::move(anchor.hash)) {}

  // Checks the next record; the first break so far, if any.
  const std::optional<AuditBreak>& Next(const AuditRecord& r);

  const std::optional<AuditBreak>& broken() const { return broken_; }
  int64_t checked() const { return checked_; }
  int64_t last_seq() const { return next_seq_ - 1; }
  const std::string& head_hash() const { return prev_hash_; }

 private:
  int64_t next_seq_;
  std::string prev_hash_;
  int64_t checked_ = 0;
  std::optional<AuditBreak> broken_;
};

}  // namespace autovibe
