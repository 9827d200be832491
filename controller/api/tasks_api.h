// The API's project and task routes: /v1/projects..., /v1/tasks... Owner-thread only.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/api/project_scope.h"
#include "controller/api/task_followers.h"
#include "controller/fleet/fleet.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

struct TasksApiDeps {
  TaskBook* tasks = nullptr;
  const Fleet* fleet = nullptr;
  TaskFollowers* followers = nullptr;
  // Makes the writes so far durable; called before a write is acknowledged to the client.
  std::function<Result<void>()> commit;
  // Whether the catalogue knows a checkpoint (for "from_checkpoint"); null: none known.
  std::function<bool(std::string_view)> checkpoint_known;
  // Whether a checkpoint restore is writing a task's workspace; null: never.
  std::function<bool(std::string_view)> restoring;
  // Where the controller keeps a task's result "diff" or "bundle"; "" when it has none. Null:
  // no results.
  std::function<std::string(const std::string& task_id, const std::string& what)> result_file;
  // Roots local repositories (file://, /path) may lie under; none: no local repository.
  std::vector<std::string> local_repo_roots;
  // Whether a secret exists (a task's repo.secret must); null: none does.
  std::function<bool(const std::string&)> secret_exists;
};

class TasksApi {
 public:
  explicit TasksApi(TasksApiDeps deps) : deps_(std::move(deps)) {}

  // Handles the request if its path is one of ours (seg[1] is "projects" or "tasks"), setting
  // `route` for metrics. Lists hold only what `scope` sees; a task submitted may name only
  // tasks and checkpoints it sees (Api has checked the request's own object).
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route, const ProjectScope& scope);

 private:
  HttpResponse Projects(const HttpRequest& req, const std::vector<std::string_view>& seg,
                        std::string& route, const ProjectScope& scope);
  HttpResponse Tasks(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route, const ProjectScope& scope);
  boost::json::object ProjectJson(const ProjectRecord& p) const;
  HttpResponse Submit(const HttpRequest& req, const ProjectScope& scope);
  // PATCH /v1/projects/{name} {"repo": {...} | null}.
  HttpResponse UpdateProject(const HttpRequest& req, std::string_view name);
  HttpResponse ListTasks(const HttpRequest& req, const ProjectScope& scope);
  HttpResponse Logs(const HttpRequest& req, const TaskRecord& t);
  // GET .../diff (text/x-diff; ?stat=1: the change's figures as JSON) and .../bundle.
  HttpResponse ResultFile(const HttpRequest& req, const TaskRecord& t, std::string_view what);
  HttpResponse Review(const HttpRequest& req, const TaskRecord& t, bool approve);
  // A submitted repository: allowed here, its secret known. Error bad_request / bad_url.
  Result<void> CheckRepo(const TaskRepo& repo) const;

  TasksApiDeps deps_;
};

}  // namespace autovibe
