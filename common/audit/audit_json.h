// Audit records and anchors as the API writes them and the CLI reads them back. A record
// read back hashes as it did when written: `details` goes out as a JSON object and comes back
// as the text Boost.JSON writes for it, which is the text the controller stored.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/audit/audit_chain.h"
#include "common/audit/audit_record.h"
#include "common/core/result.h"

namespace autovibe {

// {"seq","at","actor","action","object":{"kind","id"},"project","remote_address","status",
//  "result","error","details":{...},"prev_hash","hash"}; "at" is RFC 3339 with milliseconds.
boost::json::object AuditRecordJson(const AuditRecord& r);
// The reverse; a bad_request error names the first field that is missing or wrong.
Result<AuditRecord> AuditRecordFromJson(const boost::json::value& v);

// {"seq","hash","at"}.
boost::json::object AuditAnchorJson(const AuditAnchor& a);
Result<AuditAnchor> AuditAnchorFromJson(const boost::json::value& v);

// What a check from `anchor` found: {"ok","checked","first_seq","last_seq","head_hash",
// "anchor", "broken":{"seq","problem"} when not ok}: GET /v1/audit/verify, and the CLI's.
boost::json::object AuditVerifyJson(const AuditAnchor& anchor, const AuditChainCheck& check);

}  // namespace autovibe
