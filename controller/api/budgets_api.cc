#include "controller/api/budgets_api.h"

#include <boost/json.hpp>

#include "common/core/time.h"
#include "controller/api/budget_json.h"
#include "controller/api/responses.h"
#include "controller/api/scoped_usage.h"
#include "controller/budgets/periods.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kMaxAlerts = 1000;

std::string Short(std::string_view s) { return std::string(s.substr(0, 80)); }

std::string Query(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? "" : it->second;
}

HttpResponse NoProject(std::string_view name) {
  return JsonError(404, "not_found", "no project named " + Short(name));
}

}  // namespace

bool BudgetsApi::Handles(const std::vector<std::string_view>& seg) {
  if (seg.size() == 2) return seg[1] == "usage" || seg[1] == "alerts";
  return seg.size() == 4 && seg[1] == "projects" && (seg[3] == "budgets" || seg[3] == "usage");
}

HttpResponse BudgetsApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                               std::string& route, const ProjectScope& scope) {
  if (seg.size() == 2) {
    route = "/v1/" + std::string(seg[1]);
    if (req.method != "GET") return MethodNotAllowed("GET");
    return seg[1] == "usage" ? UsageBy(req, scope) : Alerts(req, scope);
  }
  route = "/v1/projects/{name}/" + std::string(seg[3]);
  const std::string project(seg[2]);
  if (!deps_.project_exists(project)) return NoProject(project);
  if (seg[3] == "budgets") return Budgets(req, project);
  if (req.method != "GET") return MethodNotAllowed("GET");
  return Usage(project);
}

HttpResponse BudgetsApi::Budgets(const HttpRequest& req, const std::string& project) {
  if (req.method == "GET") {
    return JsonResponse(200, BudgetsToJson(project, deps_.book->Budgets(project)));
  }
  if (req.method != "PUT") return MethodNotAllowed("GET, PUT");
  auto body = ParseJsonObject(req);
  if (!body) return ErrorResponse(body.error());
  auto budgets = BudgetsFromJson(*body);
  if (!budgets) return ErrorResponse(budgets.error());
  if (auto r = deps_.book->SetBudgets(project, std::move(*budgets)); !r) {
    return ErrorResponse(r.error());
  }
  if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(200, BudgetsToJson(project, deps_.book->Budgets(project)));
}

HttpResponse BudgetsApi::Usage(const std::string& project) {
  auto usage = deps_.book->Usage(project);
  if (!usage) return ErrorResponse(usage.error());
  return JsonResponse(200, UsageToJson(*usage));
}

HttpResponse BudgetsApi::UsageBy(const HttpRequest& req, const ProjectScope& scope) {
  UsageQuery q;
  const std::string group_by = Query(req, "group_by");
  if (!group_by.empty()) {
    auto g = ParseUsageGroupBy(group_by);
    if (!g) {
      return JsonError(
          400, "bad_request",
          "group_by must be one of model, machine, task, day, none; got " + Short(group_by));
    }
    q.group_by = *g;
  }
  q.project = Query(req, "project");
  if (!q.project.empty() && (!scope.Sees(q.project) || !deps_.project_exists(q.project))) {
    return NoProject(q.project);
  }
  if (const std::string since = Query(req, "since"); !since.empty()) {
    auto ms = ParseRfc3339Ms(since, DateAlone::kMidnightUtc);
    if (!ms) {
      return JsonError(
          400, "bad_request",
          "since must be an RFC 3339 time such as 2026-11-30T00:00:00Z; got " + Short(since));
    }
    q.since_ms = *ms;
  }
  auto rows = ScopedUsage(*deps_.book, q, scope);
  if (!rows) return ErrorResponse(rows.error());
  json::array list;
  for (const UsageGroupRow& r : *rows) list.push_back(UsageRowToJson(r));
  return JsonResponse(200, {{"group_by", ToString(q.group_by)}, {"rows", std::move(list)}});
}

HttpResponse BudgetsApi::Alerts(const HttpRequest& req, const ProjectScope& scope) {
  const std::string project = Query(req, "project");
  if (!project.empty() && (!scope.Sees(project) || !deps_.project_exists(project))) {
    return NoProject(project);
  }
  auto alerts = ScopedAlerts(*deps_.book, project, kMaxAlerts, scope);
  if (!alerts) return ErrorResponse(alerts.error());
  json::array list;
  for (const BudgetAlert& a : *alerts) list.push_back(AlertToJson(a));
  return JsonResponse(200, {{"alerts", std::move(list)}});
}

}  // namespace autovibe
