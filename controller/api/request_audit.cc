#include "controller/api/request_audit.h"

#include <array>
#include <boost/json.hpp>

#include "controller/api/responses.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// Body fields a record may keep: what names or shapes an object. Everything else (a secret's
// value, a token, a prompt, a command, an environment, a repository or webhook URL, which
// may hold credentials) is left out.
constexpr std::array<std::string_view, 22> kSafeFields = {
    "name",         "project",    "pool",   "backend",  "from_checkpoint",
    "to",           "machine",    "tool",   "priority", "timeout_s",
    "max_attempts", "depends_on", "labels", "role",     "projects",
    "expires",      "kind",       "kinds",  "ttl",      "reason",
    "budgets",      "review"};
constexpr size_t kMaxFieldBytes = 512;
constexpr size_t kMaxErrorBytes = 300;

bool Safe(std::string_view key) {
  return std::find(kSafeFields.begin(), kSafeFields.end(), key) != kSafeFields.end();
}

std::optional<json::object> JsonObjectOf(std::string_view text) {
  if (text.empty() || text.front() != '{') return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

std::string TextField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? Clipped(v->get_string(), 200) : "";
}

// "tasks" -> "task", "join-tokens" -> "join-token".
std::string Singular(std::string_view plural) {
  if (plural.size() > 1 && plural.back() == 's') plural.remove_suffix(1);
  return std::string(plural);
}

// The object a route names: the segment before its first placeholder and the path's segment
// in its place ("/v1/tasks/{id}/cancel" on "/v1/tasks/t-1/cancel": task t-1); else the
// route's last segment, whose id the answer will tell ("/v1/tasks": task).
void ObjectOf(std::string_view route, std::string_view path, AuditRecord& r) {
  const auto rs = PathSegments(route);
  const auto ps = PathSegments(path);
  for (size_t i = 1; i < rs.size(); ++i) {
    if (rs[i].starts_with('{')) {
      r.object_kind = Singular(rs[i - 1]);
      if (i < ps.size()) r.object_id = Clipped(ps[i], 200);
      return;
    }
  }
  if (rs.size() >= 2) r.object_kind = Singular(rs.back());
}

std::string Details(const HttpRequest& req) {
  json::object details;
  if (auto body = JsonObjectOf(req.body)) {
    for (const auto& [k, v] : *body) {
      if (!Safe(k)) continue;
      std::string text = json::serialize(v);
      if (text.size() > kMaxFieldBytes) {
        details[k] = "(" + std::to_string(text.size()) + " bytes, left out)";
      } else {
        details[k] = v;
      }
    }
  }
  return json::serialize(details);
}

}  // namespace

bool RequestAudit::Audited(const HttpRequest& req) {
  if (req.method == "GET" || req.method == "HEAD") return false;
  const auto seg = PathSegments(req.path);
  return !seg.empty() && seg[0] == "v1";
}

AuditRecord RequestRecord(const HttpRequest& req, const std::string& route,
                          const std::optional<Caller>& caller) {
  AuditRecord r;
  r.actor = caller ? caller->name : "anonymous";
  // A route the API does not know is named by the path it was asked (clipped).
  const bool known = route.starts_with("/v1");
  r.action = Clipped(req.method, 16) + " " + (known ? route : Clipped(req.path, 200));
  if (known) ObjectOf(route, req.path, r);
  r.remote_address = req.remote_address;
  r.details = Details(req);
  if (auto body = JsonObjectOf(req.body)) r.project = TextField(*body, "project");
  if (r.project.empty() && r.object_kind == "project") r.project = r.object_id;
  return r;
}

void AnswerRecord(AuditRecord& r, const HttpResponse& res) {
  r.status = res.status;
  r.result = res.status < 400 ? "ok" : "error";
  auto body = JsonObjectOf(res.body);
  if (!body) return;
  if (res.status >= 400) {
    if (const json::value* e = body->if_contains("error"); e != nullptr && e->is_object()) {
      r.error = Clipped(TextField(e->get_object(), "message"), kMaxErrorBytes);
    }
    return;
  }
  // A created object's id comes with the answer (its "id", or its "name"); never anything
  // else of it, so a token's or join token's secret stays out.
  if (r.object_id.empty()) {
    r.object_id = TextField(*body, "id");
    if (r.object_id.empty()) r.object_id = TextField(*body, "name");
  }
  if (r.project.empty()) r.project = TextField(*body, "project");
  if (r.project.empty() && r.object_kind == "project") r.project = r.object_id;
}

HttpResponse RequestAudit::Answered(const HttpRequest& req, const std::string& route,
                                    const std::optional<Caller>& caller, HttpResponse res,
                                    std::optional<std::string> owner) {
  AuditRecord r = RequestRecord(req, route, caller);
  if (!res.later) return Finish(std::move(r), std::move(res), owner);
  res.later = [this, r = std::move(r), owner = std::move(owner),
               later = std::move(res.later)](auto respond) {
    later([this, r, owner, respond](HttpResponse answer) {
      respond(Finish(r, std::move(answer), owner));
    });
  };
  return res;
}

HttpResponse RequestAudit::Finish(AuditRecord r, HttpResponse res,
                                  const std::optional<std::string>& owner) {
  AnswerRecord(r, res);
  if (owner) r.project = *owner;
  log_.Record(std::move(r));
  if (auto c = commit_(); !c) {
    return JsonError(503, "unavailable",
                     "the audit record could not be written: " + c.error().message);
  }
  return res;
}

}  // namespace autovibe
