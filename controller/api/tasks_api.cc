#include "controller/api/tasks_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "common/core/files.h"
#include "common/core/repo_url.h"
#include "controller/api/responses.h"
#include "controller/api/task_api_json.h"
#include "controller/api/task_spec_json.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kDefaultListLimit = 1000;
constexpr size_t kMaxListLimit = 100'000;
constexpr size_t kLogPage = 1000;

std::string Short(std::string_view s) { return std::string(s.substr(0, 80)); }

// A non-negative integer query parameter; `fallback` when absent.
Result<int64_t> QueryInt(const HttpRequest& req, const std::string& key, int64_t fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return fallback;
  int64_t n = 0;
  const std::string& v = it->second;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return MakeError(ErrorCode::kBadRequest, "query parameter " + key + " must be a whole number");
  }
  return n;
}

bool QueryFlag(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it != req.query.end() && (it->second == "1" || it->second == "true");
}

}  // namespace

HttpResponse TasksApi::Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                             std::string& route, const ProjectScope& scope) {
  return seg[1] == "projects" ? Projects(req, seg, route, scope) : Tasks(req, seg, route, scope);
}

HttpResponse TasksApi::Projects(const HttpRequest& req, const std::vector<std::string_view>& seg,
                                std::string& route, const ProjectScope& scope) {
  TaskBook& book = *deps_.tasks;
  if (seg.size() == 2) {
    route = "/v1/projects";
    if (req.method == "GET") {
      json::array list;
      for (const ProjectRecord* p : book.Projects()) {
        if (scope.Sees(p->name)) list.push_back(ProjectJson(*p));
      }
      return JsonResponse(200, {{"projects", std::move(list)}});
    }
    if (req.method != "POST") return MethodNotAllowed("GET, POST");
    auto body = ParseJsonObject(req);
    if (!body) return ErrorResponse(body.error());
    const json::value* name = body->if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return JsonError(400, "bad_request", "\"name\" (a string) is required");
    }
    TaskRepo repo;
    if (const json::value* r = body->if_contains("repo"); r != nullptr && !r->is_null()) {
      auto parsed = TaskRepoFromJson(*r);
      if (!parsed) return ErrorResponse(parsed.error());
      if (auto ok = CheckRepo(*parsed); !ok) return ErrorResponse(ok.error());
      repo = std::move(*parsed);
    }
    auto p = book.CreateProject(std::string(name->as_string()), std::move(repo));
    if (!p) return ErrorResponse(p.error());
    if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
    return JsonResponse(201, ProjectJson(**p));
  }
  if (seg.size() == 3) {
    route = "/v1/projects/{name}";
    if (req.method == "PATCH") return UpdateProject(req, seg[2]);
    if (req.method != "GET") return MethodNotAllowed("GET, PATCH");
    const ProjectRecord* p = book.FindProject(seg[2]);
    if (p == nullptr) return JsonError(404, "not_found", "no project named " + Short(seg[2]));
    return JsonResponse(200, ProjectJson(*p));
  }
  if (seg.size() == 4 && (seg[3] == "stop" || seg[3] == "resume")) {
    route = "/v1/projects/{name}/" + std::string(seg[3]);
    if (req.method != "POST") return MethodNotAllowed("POST");
    auto counts = seg[3] == "stop" ? book.StopProject(seg[2], "stopped by the user")
                                   : book.ResumeProject(seg[2]);
    if (!counts) return ErrorResponse(counts.error());
    if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
    json::object o = ProjectJson(*book.FindProject(seg[2]));
    o["paused_tasks"] = counts->paused;
    o["held_tasks"] = counts->held;
    o["resumed_tasks"] = counts->released;
    return JsonResponse(200, std::move(o));
  }
  return JsonError(404, "not_found", "no such endpoint");
}

json::object TasksApi::ProjectJson(const ProjectRecord& p) const {
  json::object o = ProjectToJson(p, deps_.tasks->Counts(p.name));
  const std::string hold = deps_.tasks->HoldReason(p.name);
  o["held"] = !hold.empty();
  o["hold_reason"] = hold;
  return o;
}

HttpResponse TasksApi::Tasks(const HttpRequest& req, const std::vector<std::string_view>& seg,
                             std::string& route, const ProjectScope& scope) {
  if (seg.size() == 2) {
    route = "/v1/tasks";
    if (req.method == "GET") return ListTasks(req, scope);
    if (req.method == "POST") return Submit(req, scope);
    return MethodNotAllowed("GET, POST");
  }
  if (seg.size() < 3 || seg.size() > 4) return JsonError(404, "not_found", "no such endpoint");
  const std::string_view verb = seg.size() == 4 ? seg[3] : "";
  route = verb.empty() ? "/v1/tasks/{id}" : "/v1/tasks/{id}/" + std::string(verb);
  if (verb != "" && verb != "cancel" && verb != "resume" && verb != "logs" && verb != "diff" &&
      verb != "bundle" && verb != "approve" && verb != "reject") {
    route = "other";
    return JsonError(404, "not_found", "no such endpoint");
  }
  const TaskRecord* t = deps_.tasks->Find(seg[2]);
  if (t == nullptr) return JsonError(404, "not_found", "no task with id " + Short(seg[2]));
  if (verb == "cancel") {
    if (req.method != "POST") return MethodNotAllowed("POST");
    auto r = deps_.tasks->Cancel(t->id, "cancelled by the user");
    if (!r) return ErrorResponse(r.error());
    if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
    return JsonResponse(200, TaskToJson(**r, deps_.fleet));
  }
  if (verb == "resume") {
    if (req.method != "POST") return MethodNotAllowed("POST");
    if (deps_.restoring && deps_.restoring(t->id)) {
      return JsonError(409, "conflict",
                       "a checkpoint is being restored into task " + t->id +
                           "'s workspace: resume it once the restore has answered");
    }
    auto r = deps_.tasks->ResumeTask(t->id);
    if (!r) return ErrorResponse(r.error());
    if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
    return JsonResponse(200, TaskToJson(**r, deps_.fleet));
  }
  if (verb == "approve" || verb == "reject") return Review(req, *t, verb == "approve");
  if (req.method != "GET") return MethodNotAllowed("GET");
  if (verb == "logs") return Logs(req, *t);
  if (verb == "diff" || verb == "bundle") return ResultFile(req, *t, verb);
  return JsonResponse(200, TaskToJson(*t, deps_.fleet));
}

HttpResponse TasksApi::Submit(const HttpRequest& req, const ProjectScope& scope) {
  auto body = ParseJsonObject(req);
  if (!body) return ErrorResponse(body.error());
  const json::value* project = body->if_contains("project");
  if (project == nullptr || !project->is_string() || project->as_string().empty()) {
    return JsonError(400, "bad_request", "\"project\" (a project name) is required");
  }
  auto spec = TaskSpecFromJson(*body);
  if (!spec) return ErrorResponse(spec.error());
  // What lies outside the caller's projects answers as what does not exist.
  for (const std::string& d : spec->depends_on) {
    if (!scope.SeesTask(d)) {
      return JsonError(400, "bad_request", "depends_on names unknown task " + Short(d));
    }
  }
  if (!spec->from_checkpoint.empty() &&
      (!(deps_.checkpoint_known && deps_.checkpoint_known(spec->from_checkpoint)) ||
       !scope.SeesCheckpoint(spec->from_checkpoint))) {
    return JsonError(404, "not_found", "no checkpoint " + spec->from_checkpoint);
  }
  if (!spec->repo.url.empty()) {
    if (auto r = CheckRepo(spec->repo); !r) return ErrorResponse(r.error());
  }
  auto t = deps_.tasks->Submit(std::string(project->as_string()), std::move(*spec));
  if (!t) return ErrorResponse(t.error());
  if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(201, TaskToJson(**t, deps_.fleet));
}

HttpResponse TasksApi::UpdateProject(const HttpRequest& req, std::string_view name) {
  auto body = ParseJsonObject(req);
  if (!body) return ErrorResponse(body.error());
  for (const auto& [key, v] : *body) {
    if (key != "repo") return JsonError(400, "bad_request", "unknown field \"" + Short(key) + "\"");
  }
  const json::value* r = body->if_contains("repo");
  if (r == nullptr) return JsonError(400, "bad_request", "nothing to change: give \"repo\"");
  TaskRepo repo;  // null: the project has no repository any more
  if (!r->is_null()) {
    auto parsed = TaskRepoFromJson(*r);
    if (!parsed) return ErrorResponse(parsed.error());
    if (auto ok = CheckRepo(*parsed); !ok) return ErrorResponse(ok.error());
    repo = std::move(*parsed);
  }
  auto p = deps_.tasks->SetProjectRepo(name, std::move(repo));
  if (!p) return ErrorResponse(p.error());
  if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(200, ProjectJson(**p));
}

Result<void> TasksApi::CheckRepo(const TaskRepo& repo) const {
  auto url = ParseRepoUrl(repo.url);
  if (!url) return MakeError(ErrorCode::kBadRequest, url.error().message);
  if (auto local = CheckLocalRepo(*url, deps_.local_repo_roots); !local) {
    return MakeError(ErrorCode::kBadRequest, local.error().message);
  }
  for (const std::string* name : {&repo.secret, &repo.forge_secret}) {
    if (!name->empty() && !(deps_.secret_exists && deps_.secret_exists(*name))) {
      return MakeError(ErrorCode::kBadRequest,
                       "no secret named " + *name + ": store it first (autovibe secret set)");
    }
  }
  if (repo.publish == "pr" && repo.forge_api.empty() && url->kind == RepoKind::kLocal) {
    return MakeError(ErrorCode::kBadRequest,
                     "publish pr needs a forge: a local repository has none (repo.forge_api)");
  }
  return {};
}

HttpResponse TasksApi::ResultFile(const HttpRequest& req, const TaskRecord& t,
                                  std::string_view what) {
  const TaskChange& c = t.report.change;
  if (t.spec.repo.url.empty()) {
    return JsonError(404, "not_found", "task " + t.id + " has no repository");
  }
  if (what == "diff" && QueryFlag(req, "stat")) return JsonResponse(200, TaskChangeToJson(c));
  if (!c.error.empty()) return JsonError(404, "not_found", "task " + t.id + ": " + c.error);
  if (c.head.empty()) {
    return JsonError(409, "conflict", "task " + t.id + " has not ended with a change yet");
  }
  if (c.head == c.base) {
    // Nothing changed: an empty diff; no bundle to give.
    if (what == "diff") return HttpResponse{.status = 200, .content_type = "text/x-diff"};
    return JsonError(404, "not_found", "task " + t.id + " changed nothing: no bundle");
  }
  const std::string path = deps_.result_file ? deps_.result_file(t.id, std::string(what)) : "";
  if (path.empty()) {
    return JsonError(409, "conflict",
                     "the controller does not hold task " + t.id + "'s " + std::string(what) +
                         " yet (it is fetched from its machine once the task ends)");
  }
  auto data = ReadFile(path);
  if (!data) return ErrorResponse(data.error());
  HttpResponse r{.status = 200,
                 .content_type = what == "diff" ? "text/x-diff" : "application/octet-stream",
                 .body = std::move(*data)};
  if (what == "bundle") {
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + t.id + ".bundle\"");
  }
  r.headers.emplace_back("X-Autovibe-Branch", c.branch);
  r.headers.emplace_back("X-Autovibe-Base", c.base);
  r.headers.emplace_back("X-Autovibe-Head", c.head);
  return r;
}

HttpResponse TasksApi::Review(const HttpRequest& req, const TaskRecord& t, bool approve) {
  if (req.method != "POST") return MethodNotAllowed("POST");
  std::string reason;
  if (!req.body.empty()) {
    auto body = ParseJsonObject(req);
    if (!body) return ErrorResponse(body.error());
    if (const json::value* r = body->if_contains("reason")) {
      if (!r->is_string() || r->as_string().size() > 1000) {
        return JsonError(400, "bad_request", "\"reason\" must be a string of at most 1000 bytes");
      }
      reason = std::string(r->as_string());
    }
  }
  auto r = deps_.tasks->Review(t.id, approve, reason);
  if (!r) return ErrorResponse(r.error());
  if (auto c = deps_.commit(); !c) return ErrorResponse(c.error());
  return JsonResponse(200, TaskToJson(**r, deps_.fleet));
}

HttpResponse TasksApi::ListTasks(const HttpRequest& req, const ProjectScope& scope) {
  std::optional<TaskState> state;
  if (auto it = req.query.find("state"); it != req.query.end() && !it->second.empty()) {
    state = ParseTaskState(it->second);
    if (!state) return JsonError(400, "bad_request", "unknown task state " + Short(it->second));
  }
  std::string project;
  if (auto it = req.query.find("project"); it != req.query.end()) project = it->second;
  auto limit = QueryInt(req, "limit", kDefaultListLimit);
  if (!limit) return ErrorResponse(limit.error());
  const size_t n = std::min<size_t>(static_cast<size_t>(*limit), kMaxListLimit);
  std::vector<const TaskRecord*> tasks;
  if (!project.empty() || scope.Everything()) {
    if (scope.Sees(project)) tasks = deps_.tasks->List(project, state, n);
  } else {
    // The last n of the caller's projects' tasks, in submission order.
    for (const std::string& p : scope.caller().projects) {
      auto some = deps_.tasks->List(p, state, n);
      tasks.insert(tasks.end(), some.begin(), some.end());
    }
    std::sort(tasks.begin(), tasks.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    if (tasks.size() > n) tasks.erase(tasks.begin(), tasks.end() - static_cast<ptrdiff_t>(n));
  }
  json::array list;
  for (const TaskRecord* t : tasks) list.push_back(TaskToJson(*t, deps_.fleet));
  return JsonResponse(200, {{"tasks", std::move(list)}});
}

HttpResponse TasksApi::Logs(const HttpRequest& req, const TaskRecord& t) {
  auto after = QueryInt(req, "after", 0);
  if (!after) return ErrorResponse(after.error());
  if (!QueryFlag(req, "follow")) {
    auto chunks = deps_.tasks->Logs(t.id, *after, kLogPage);
    if (!chunks) return ErrorResponse(chunks.error());
    json::array list;
    int64_t next = *after;
    for (const auto& c : *chunks) {
      list.push_back(LogChunkToJson(c));
      next = c.seq;
    }
    const bool more = chunks->size() == kLogPage;
    return JsonResponse(200, {{"task_id", t.id},
                              {"state", ToString(t.state)},
                              {"chunks", std::move(list)},
                              {"next_after", next},
                              {"done", IsFinal(t.state) && !more}});
  }
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.keepalive = ":\n\n";
  // Runs on the owner thread once the headers are out: the backlog, then live events, with
  // nothing in between that could slip past.
  r.on_stream = [this, id = t.id, after = *after](std::shared_ptr<HttpBodyStream> stream) {
    const TaskRecord* task = deps_.tasks->Find(id);
    if (task == nullptr) {
      stream->Close();
      return;
    }
    int64_t from = after;
    for (;;) {
      auto chunks = deps_.tasks->Logs(id, from, kLogPage);
      if (!chunks || chunks->empty()) break;
      for (const auto& c : *chunks) {
        stream->Write(TaskFollowers::Event("log", json::serialize(LogChunkToJson(c))));
        from = c.seq;
      }
      if (chunks->size() < kLogPage) break;
    }
    deps_.followers->Follow(*task, std::move(stream));
  };
  return r;
}

}  // namespace autovibe
