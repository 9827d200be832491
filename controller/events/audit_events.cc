#include "controller/events/audit_events.h"

#include <boost/json.hpp>
#include <string_view>
#include <utility>

namespace autovibe {
namespace {

namespace json = boost::json;

struct Mapping {
  std::string_view action;
  std::string_view actor;  // "" any; else the actor it must be ("controller:budget_exhausted")
  std::string_view kind;
};

constexpr Mapping kMappings[] = {
    {"PUT /v1/projects/{name}/budgets", "", "budget.limit_changed"},
    {"budget.alert", "controller:budget_exhausted", "budget.exhausted"},
    {"budget.alert", "controller:budget_alert", "budget.alert"},
    {"project.stop", "controller:budget_exhausted", "budget.stopped"},
    {"project.pause", "controller:budget_exhausted", "budget.paused"},
    {"project.release", "controller:budget_replenished", "budget.resumed"},
    {"POST /v1/checkpoints/{id}/restore", "", "checkpoint.restored"},
    {"POST /v1/checkpoints/{id}/branch", "", "checkpoint.branched"},
    {"DELETE /v1/checkpoints/{id}", "", "checkpoint.deleted"},
    {"checkpoint.remove", "controller:checkpoint_retention", "checkpoint.deleted"},
    {"POST /v1/tasks/{id}/approve", "", "approval.approved"},
    {"POST /v1/tasks/{id}/reject", "", "approval.rejected"},
};

}  // namespace

std::optional<StoredEvent> EventOfAudit(const AuditRecord& r) {
  if (r.result != "ok") return std::nullopt;
  for (const Mapping& m : kMappings) {
    if (r.action != m.action || (!m.actor.empty() && r.actor != m.actor)) continue;
    json::object detail;
    boost::system::error_code ec;
    if (json::value d = json::parse(r.details, ec); !ec && d.is_object()) {
      detail = std::move(d.as_object());
    }
    detail["object"] = r.object_id;
    detail["object_kind"] = r.object_kind;
    // Who, as the audit log (admin only) names them, stays there: the role of a request's
    // token or the controller's rule is enough here.
    detail["by"] = r.actor.starts_with("controller:") ? r.actor : "user";
    StoredEvent e;
    e.at_ms = r.at_ms;
    e.kind = std::string(m.kind);
    e.project = r.project;
    if (r.object_kind == "task") e.task_id = r.object_id;
    e.detail_json = json::serialize(detail);
    return e;
  }
  return std::nullopt;
}

}  // namespace autovibe
