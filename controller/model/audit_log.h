// The audit log's one seam: every part that changes state on a user's behalf or decides
// something by itself (a budget ran out, a machine was lost, a pool grew) writes one record
// here. Owner-thread only.
#pragma once

#include <string>

#include "common/audit/audit_record.h"

namespace autovibe {

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Appends `r` to the log, in the controller's open write batch (opened if need be): it is
  // durable with the writes of the decision it records. Its seq, time and hashes are filled
  // in here. A record that cannot be written is logged; the chain stays whole.
  virtual void Record(AuditRecord r) = 0;
};

// A decision the controller took by itself: actor "controller:<rule>", result ok.
inline AuditRecord Decision(std::string_view rule, std::string action, std::string object_kind,
                            std::string object_id, std::string project = "") {
  AuditRecord r;
  r.actor = ControllerActor(rule);
  r.action = std::move(action);
  r.object_kind = std::move(object_kind);
  r.object_id = std::move(object_id);
  r.project = std::move(project);
  return r;
}

// Records `r` when there is a log (parts made without one, as in tests, record nothing).
inline void Audit(AuditLog* log, AuditRecord r) {
  if (log != nullptr) log->Record(std::move(r));
}

}  // namespace autovibe
