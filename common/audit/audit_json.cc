#include "common/audit/audit_json.h"

#include <boost/json.hpp>

#include "common/core/time.h"

namespace autovibe {
namespace {

namespace json = boost::json;

Error Bad(std::string_view field) {
  return MakeError(ErrorCode::kBadRequest,
                   "audit record: \"" + std::string(field) + "\" is missing or not valid");
}

// Reads the fields of one JSON object, remembering the first that is wrong.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  std::string Text(std::string_view k) {
    const json::value* v = o_.if_contains(k);
    if (v == nullptr || !v->is_string()) return Fail(k), "";
    return std::string(v->get_string());
  }
  int64_t Int(std::string_view k) {
    const json::value* v = o_.if_contains(k);
    if (v == nullptr || !v->is_int64()) return Fail(k), 0;
    return v->get_int64();
  }
  int64_t Time(std::string_view k) {
    auto ms = ParseRfc3339Ms(Text(k));
    if (!ms) return Fail(k), 0;
    return *ms;
  }
  const json::object& Object(std::string_view k) {
    static const json::object kEmpty;
    const json::value* v = o_.if_contains(k);
    if (v == nullptr || !v->is_object()) return Fail(k), kEmpty;
    return v->get_object();
  }
  const std::optional<Error>& error() const { return error_; }

 private:
  void Fail(std::string_view k) {
    if (!error_) error_ = Bad(k);
  }
  const json::object& o_;
  std::optional<Error> error_;
};

}  // namespace

json::object AuditRecordJson(const AuditRecord& r) {
  json::value details;
  json::error_code ec;
  details = json::parse(r.details, ec);
  if (ec || !details.is_object()) details = json::object{{"unreadable", r.details}};
  return {{"seq", r.seq},
          {"at", FormatRfc3339(r.at_ms)},
          {"actor", r.actor},
          {"action", r.action},
          {"object", json::object{{"kind", r.object_kind}, {"id", r.object_id}}},
          {"project", r.project},
          {"remote_address", r.remote_address},
          {"status", r.status},
          {"result", r.result},
          {"error", r.error},
          {"details", std::move(details)},
          {"prev_hash", r.prev_hash},
          {"hash", r.hash}};
}

Result<AuditRecord> AuditRecordFromJson(const json::value& v) {
  if (!v.is_object()) return Bad("record");
  Fields f(v.get_object());
  AuditRecord r;
  r.seq = f.Int("seq");
  r.at_ms = f.Time("at");
  r.actor = f.Text("actor");
  r.action = f.Text("action");
  Fields object(f.Object("object"));
  r.object_kind = object.Text("kind");
  r.object_id = object.Text("id");
  r.project = f.Text("project");
  r.remote_address = f.Text("remote_address");
  r.status = static_cast<int>(f.Int("status"));
  r.result = f.Text("result");
  r.error = f.Text("error");
  r.details = json::serialize(f.Object("details"));
  r.prev_hash = f.Text("prev_hash");
  r.hash = f.Text("hash");
  if (f.error()) return *f.error();
  if (object.error()) return Bad("object");
  return r;
}

json::object AuditAnchorJson(const AuditAnchor& a) {
  return {{"seq", a.seq}, {"hash", a.hash}, {"at", FormatRfc3339(a.at_ms)}};
}

Result<AuditAnchor> AuditAnchorFromJson(const json::value& v) {
  if (!v.is_object()) return Bad("anchor");
  Fields f(v.get_object());
  AuditAnchor a;
  a.seq = f.Int("seq");
  a.hash = f.Text("hash");
  if (f.error()) return *f.error();
  return a;
}

json::object AuditVerifyJson(const AuditAnchor& anchor, const AuditChainCheck& c) {
  json::object out{{"ok", !c.broken()},
                   {"checked", c.checked()},
                   {"first_seq", c.checked() > 0 ? anchor.seq + 1 : 0},
                   {"last_seq", c.last_seq()},
                   {"head_hash", c.head_hash()},
                   {"anchor", AuditAnchorJson(anchor)}};
  if (c.broken()) {
    out["broken"] = json::object{{"seq", c.broken()->seq}, {"problem", c.broken()->problem}};
  }
  return out;
}

}  // namespace autovibe
