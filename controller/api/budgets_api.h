// The API's budget routes: PUT/GET /v1/projects/{name}/budgets, GET /v1/projects/{name}/usage,
// GET /v1/usage and GET /v1/alerts. Owner-thread only.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/time.h"
#include "common/http/http.h"
#include "controller/api/project_scope.h"
#include "controller/budgets/budget_book.h"

namespace autovibe {

struct BudgetsApiDeps {
  BudgetBook* book = nullptr;
  // Whether a project of that name exists (the task book's projects).
  std::function<bool(std::string_view)> project_exists;
  // Makes the writes so far durable; called before a change is acknowledged to the client.
  std::function<Result<void>()> commit;
};

class BudgetsApi {
 public:
  explicit BudgetsApi(BudgetsApiDeps deps) : deps_(std::move(deps)) {}

  // Whether the path (PathSegments, seg[0] == "v1") is one of ours.
  static bool Handles(const std::vector<std::string_view>& seg);
  // Handles one of our paths, setting `route` for metrics. /v1/usage and /v1/alerts hold only
  // the projects `scope` sees.
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route, const ProjectScope& scope);

 private:
  HttpResponse Budgets(const HttpRequest& req, const std::string& project);
  HttpResponse Usage(const std::string& project);
  HttpResponse UsageBy(const HttpRequest& req, const ProjectScope& scope);
  HttpResponse Alerts(const HttpRequest& req, const ProjectScope& scope);

  BudgetsApiDeps deps_;
};

}  // namespace autovibe
