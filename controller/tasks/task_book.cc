#include "controller/tasks/task_book.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/core/ids.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {
namespace {

namespace json = boost::json;

bool ValidProjectName(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

TaskBook::TaskBook(TaskBookDeps deps, TaskBookOptions options)
    : store_(*deps.store),
      clock_(*deps.clock),
      commands_(*deps.commands),
      observer_(*deps.observer),
      batch_(deps.batch),
      options_(options),
      pump_(deps.ioc, [this](size_t max) -> size_t {
        if (!HasQueued()) return 0;
        if (batch_ != nullptr) batch_->Open();
        return Schedule(max);
      }) {}

TaskBook::~TaskBook() = default;

Result<void> TaskBook::Load() {
  auto projects = store_.tasks().LoadProjects();
  if (!projects) return projects.error();
  for (auto& p : *projects) {
    auto owned = std::make_unique<ProjectRecord>(std::move(p));
    projects_by_name_[owned->name] = owned.get();
    projects_.push_back(std::move(owned));
  }
  auto tasks = store_.tasks().LoadTasks();
  if (!tasks) return tasks.error();
  auto seqs = store_.tasks().LastLogSeqs();
  if (!seqs) return seqs.error();
  for (auto& t : *tasks) {
    auto e = std::make_unique<Entry>();
    e->record = std::move(t);
    e->attempt_machine = e->record.machine_id;
    next_seq_ = std::max(next_seq_, e->record.seq + 1);
    by_id_[e->record.id] = e.get();
    ++counts_[e->record.project][e->record.state];
    if (!IsFinal(e->record.state) && !e->record.spec.from_checkpoint.empty()) {
      ++starting_points_[e->record.spec.from_checkpoint];
    }
    for (const auto& dep : e->record.spec.depends_on) dependents_[dep].push_back(e.get());
    tasks_.push_back(std::move(e));
  }
  for (const auto& [id, seq] : *seqs) {
    if (Entry* e = Get(id)) e->last_log_seq = seq;
  }
  const int64_t deadline = clock_.NowMs() + options_.assign_timeout.count();
  for (auto& e : tasks_) {
    TaskRecord& t = e->record;
    if (t.state == TaskState::kQueued) scheduler_.Enqueue(ToSchedulerTask(t));
    if (IsPlaced(t.state)) scheduler_.Hold(t.machine_id, t.id);
    // An assignment whose answer the restart lost: the agent's heartbeat confirms it, or the
    // deadline sends it back to the queue.
    if (t.state == TaskState::kAssigned) assign_deadlines_[t.id] = deadline;
  }
  spdlog::info("tasks loaded projects={} tasks={} queued={}", projects_.size(), tasks_.size(),
               scheduler_.queued());
  return {};
}

Result<const ProjectRecord*> TaskBook::CreateProject(const std::string& name, TaskRepo repo) {
  return Guarded([&]() -> Result<const ProjectRecord*> {
    if (!ValidProjectName(name)) {
      return MakeError(ErrorCode::kBadRequest, "invalid project name \"" + name.substr(0, 80) +
                                                   "\": use 1-63 of a-z, 0-9, '.', '_' or '-'");
    }
    if (projects_by_name_.count(name)) {
      return MakeError(ErrorCode::kConflict, "a project named " + name + " exists");
    }
    ProjectRecord p{name, clock_.NowMs(), false, std::move(repo)};
    if (auto r = store_.tasks().InsertProject(p); !r) {
      Fail(r.error());
      return r.error();
    }
    auto owned = std::make_unique<ProjectRecord>(p);
    ProjectRecord* out = owned.get();
    projects_by_name_[name] = out;
    projects_.push_back(std::move(owned));
    StoredEvent ev{0,
                   p.created_at_ms,
                   "project.created",
                   "",
                   json::serialize(json::object{{"project", name}}),
                   "",
                   name};
    if (auto r = store_.AppendEvent(ev); !r) Fail(r.error());
    return out;
  });
}

Result<const ProjectRecord*> TaskBook::SetProjectRepo(std::string_view name, TaskRepo repo) {
  return Guarded([&]() -> Result<const ProjectRecord*> {
    auto it = projects_by_name_.find(std::string(name));
    if (it == projects_by_name_.end()) {
      return MakeError(ErrorCode::kNotFound, "no project named " + std::string(name).substr(0, 80));
    }
    ProjectRecord& p = *it->second;
    if (auto r = store_.tasks().SetProjectRepo(p.name, repo); !r) {
      Fail(r.error());
      return r.error();
    }
    p.repo = std::move(repo);
    StoredEvent ev{0,
                   clock_.NowMs(),
                   "project.repo",
                   "",
                   json::serialize(json::object{{"project", p.name}, {"url", p.repo.url}}),
                   "",
                   p.name};
    if (auto r = store_.AppendEvent(ev); !r) Fail(r.error());
    return &p;
  });
}

const ProjectRecord* TaskBook::FindProject(std::string_view name) const {
  auto it = projects_by_name_.find(std::string(name));
  return it == projects_by_name_.end() ? nullptr : it->second;
}

std::vector<const ProjectRecord*> TaskBook::Projects() const {
  std::vector<const ProjectRecord*> out;
  for (const auto& p : projects_) out.push_back(p.get());
  return out;
}

std::map<TaskState, int> TaskBook::Counts(std::string_view project) const {
  auto it = counts_.find(std::string(project));
  return it == counts_.end() ? std::map<TaskState, int>{} : it->second;
}

Result<const TaskRecord*> TaskBook::Submit(const std::string& project, TaskSpec spec) {
  return Guarded([&]() -> Result<const TaskRecord*> {
    if (!FindProject(project)) {
      return MakeError(ErrorCode::kNotFound, "no project named " + project.substr(0, 80) +
                                                 "; create it with: autovibe project create NAME");
    }
    std::vector<Entry*> deps;
    for (const auto& d : spec.depends_on) {
      Entry* dep = Get(d);
      if (dep == nullptr)
        return MakeError(ErrorCode::kBadRequest, "depends_on names unknown task " + d);
      deps.push_back(dep);
    }
    if (spec.timeout_s == 0) spec.timeout_s = options_.default_timeout_s;
    // A task that names no repository works on its project's, as the project says then.
    if (spec.repo.url.empty()) spec.repo = FindProject(project)->repo;
    auto owned = std::make_unique<Entry>();
    Entry& e = *owned;
    TaskRecord& t = e.record;
    t.id = NewId("t");
    t.project = project;
    t.seq = next_seq_++;
    t.spec = std::move(spec);
    t.created_at_ms = clock_.NowMs();
    t.state = TaskState::kBlocked;
    by_id_[t.id] = &e;
    tasks_.push_back(std::move(owned));
    ++counts_[project][t.state];
    if (!t.spec.from_checkpoint.empty()) ++starting_points_[t.spec.from_checkpoint];
    for (Entry* dep : deps) dependents_[dep->record.id].push_back(&e);
    ++counters_.submitted;
    Record(e, "task.submitted",
           json::serialize(json::object{{"tool", t.spec.tool}, {"priority", t.spec.priority}}));
    // Decide at once what the dependencies allow: run, wait, or fail.
    const Entry* failed_dep = nullptr;
    bool waiting = false;
    for (Entry* dep : deps) {
      if (dep->record.state == TaskState::kSucceeded) continue;
      if (IsFinal(dep->record.state)) {
        failed_dep = dep;
        break;
      }
      waiting = true;
    }
    if (failed_dep != nullptr) {
      Finish(e, TaskState::kFailed,
             "dependency " + failed_dep->record.id + " " +
                 std::string(ToString(failed_dep->record.state)));
    } else if (!waiting) {
      Enqueue(e);
    } else {
      Save(e);
      TellChanged(t);
    }
    return &e.record;
  });
}

Result<const TaskRecord*> TaskBook::Cancel(std::string_view id, const std::string& reason) {
  return Guarded([&]() -> Result<const TaskRecord*> {
    Entry* e = Get(id);
    if (e == nullptr)
      return MakeError(ErrorCode::kNotFound, "no task with id " + std::string(id).substr(0, 80));
    TaskRecord& t = e->record;
    if (IsFinal(t.state)) {
      return MakeError(ErrorCode::kConflict,
                       "task " + t.id + " already " + std::string(ToString(t.state)));
    }
    // A placed task keeps its slot until the agent reports the tool gone (or the machine is).
    if (IsPlaced(t.state)) OrderCancel(t.machine_id, t.id, reason);
    scheduler_.Dequeue(t.id);
    assign_deadlines_.erase(t.id);
    Finish(*e, TaskState::kCancelled, reason);
    return &e->record;
  });
}

const TaskRecord* TaskBook::Find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &it->second->record;
}

TaskBook::Entry* TaskBook::Get(std::string_view id) {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<const TaskRecord*> TaskBook::List(std::string_view project,
                                              std::optional<TaskState> state, size_t limit) const {
  std::vector<const TaskRecord*> out;
  for (auto it = tasks_.rbegin(); it != tasks_.rend() && out.size() < limit; ++it) {
    const TaskRecord& t = (*it)->record;
    if (!project.empty() && t.project != project) continue;
    if (state && t.state != *state) continue;
    out.push_back(&t);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<TaskLogChunk>> TaskBook::Logs(std::string_view id, int64_t after_seq,
                                                 size_t limit) {
  if (!Find(id))
    return MakeError(ErrorCode::kNotFound, "no task with id " + std::string(id).substr(0, 80));
  return store_.tasks().TaskLogs(id, after_seq, limit);
}

void TaskBook::Save(Entry& e) {
  if (auto r = store_.tasks().SaveTask(e.record); !r) {
    spdlog::error("tasks cannot save {}: {}", e.record.id, r.error().message);
    Fail(r.error());
  }
}

void TaskBook::SetState(Entry& e, TaskState to) {
  auto& counts = counts_[e.record.project];
  --counts[e.record.state];
  ++counts[to];
  if (IsFinal(to) && !IsFinal(e.record.state) && !e.record.spec.from_checkpoint.empty()) {
    auto it = starting_points_.find(e.record.spec.from_checkpoint);
    if (it != starting_points_.end() && --it->second <= 0) starting_points_.erase(it);
  }
  e.record.state = to;
  // The other states are recorded where they are reached, with what led there.
  if (to == TaskState::kQueued || to == TaskState::kRunning) {
    json::object detail;
    if (to == TaskState::kRunning) detail["machine_id"] = e.record.machine_id;
    Record(e, "task." + std::string(ToString(to)), json::serialize(detail));
  }
}

bool TaskBook::Unfinished(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it != by_id_.end() && !IsFinal(it->second->record.state);
}

std::string TaskBook::MachineOf(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? "" : it->second->record.machine_id;
}

std::string TaskBook::AttemptMachine(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? "" : it->second->attempt_machine;
}

std::vector<std::string> TaskBook::StartingPoints() const {
  std::vector<std::string> out;
  for (const auto& [id, n] : starting_points_) out.push_back(id);
  return out;
}

bool TaskBook::IsStartingPoint(std::string_view checkpoint_id) const {
  return starting_points_.contains(checkpoint_id);
}

void TaskBook::Record(const Entry& e, std::string_view kind, const std::string& detail_json) {
  StoredEvent ev{0,           clock_.NowMs(), std::string(kind), "",
                 detail_json, e.record.id,    e.record.project};
  if (auto r = store_.AppendEvent(ev); !r) {
    spdlog::error("tasks cannot record {}: {}", kind, r.error().message);
    Fail(r.error());
  }
}

void TaskBook::Enqueue(Entry& e) {
  if (HoldIfProjectHeld(e)) return;
  SetState(e, TaskState::kQueued);
  e.record.machine_id.clear();
  Save(e);
  scheduler_.Enqueue(ToSchedulerTask(e.record));
  TellChanged(e.record);
  pump_.Request();
}

void TaskBook::Finish(Entry& e, TaskState to, std::string reason) {
  TaskRecord& t = e.record;
  SetState(e, to);
  t.reason = std::move(reason);
  t.resume_machine.clear();
  t.finished_at_ms = clock_.NowMs();
  ++counters_.finished[std::string(ToString(to))];
  Save(e);
  json::object detail{{"reason", t.reason}, {"attempts", t.attempts}};
  if (t.exit_code) detail["exit_code"] = *t.exit_code;
  if (!t.machine_id.empty()) detail["machine_id"] = t.machine_id;
  Record(e, "task." + std::string(ToString(to)), json::serialize(detail));
  // Thousands of tasks may succeed a second; what went wrong is what an operator reads.
  spdlog::log(to == TaskState::kSucceeded ? spdlog::level::debug : spdlog::level::info,
              "task {} {} attempts={} {}", t.id, ToString(to), t.attempts, t.reason);
  TellChanged(t);
  ResolveDependents(e);
}

// A task ended: tasks waiting on it may run now, or fail with it.
void TaskBook::ResolveDependents(const Entry& done) {
  if (done.record.state == TaskState::kAwaitingReview) return;  // not ended yet: reviewed later
  auto it = dependents_.find(done.record.id);
  if (it == dependents_.end()) return;
  for (Entry* d : it->second) {
    if (d->record.state != TaskState::kBlocked) continue;
    if (done.record.state != TaskState::kSucceeded) {
      Finish(*d, TaskState::kFailed,
             "dependency " + done.record.id + " " + std::string(ToString(done.record.state)));
      continue;
    }
    bool all = true;
    for (const auto& dep : d->record.spec.depends_on) {
      const TaskRecord* r = Find(dep);
      all = all && r != nullptr && r->state == TaskState::kSucceeded;
    }
    if (all) Enqueue(*d);
  }
}

}  // namespace autovibe
