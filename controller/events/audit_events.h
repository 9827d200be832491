// The audit records that are also state changes for the events stream: what users did
// (a budget's limits set, a checkpoint restored, branched or deleted, a task approved or
// rejected) and what the controller decided (a budget alert, a project held or released by
// its budget, a checkpoint removed by retention). Requests that failed change nothing and
// make no event.
#pragma once

#include <optional>

#include "common/audit/audit_record.h"
#include "controller/model/event.h"

namespace autovibe {

// The event `r` makes, if any; its project is the record's (the caller fills it in for a
// checkpoint, whose record names none). Its seq is given when stored.
std::optional<StoredEvent> EventOfAudit(const AuditRecord& r);

}  // namespace autovibe
