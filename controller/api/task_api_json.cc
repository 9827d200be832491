#include "controller/api/task_api_json.h"

#include <boost/json.hpp>

#include "common/core/text.h"
#include "common/core/time.h"
#include "controller/api/task_spec_json.h"

namespace autovibe {
namespace {

namespace json = boost::json;

json::value TimeOrNull(int64_t ms) {
  if (ms == 0) return nullptr;
  return json::value(FormatRfc3339(ms));
}

std::string MachineName(const std::string& id, const Fleet* fleet) {
  if (id.empty() || fleet == nullptr) return "";
  const MachineRecord* m = fleet->Find(id);
  return m == nullptr ? "" : m->name;
}

}  // namespace

json::object ProjectToJson(const ProjectRecord& p, const std::map<TaskState, int>& counts) {
  json::object tasks;
  for (TaskState s : kAllTaskStates) {
    auto it = counts.find(s);
    tasks[ToString(s)] = it == counts.end() ? 0 : it->second;
  }
  json::object o{{"name", p.name},
                 {"created_at", FormatRfc3339(p.created_at_ms)},
                 {"stopped", p.stopped},
                 {"tasks", tasks}};
  if (!p.repo.url.empty()) o["repo"] = TaskRepoToJson(p.repo);
  return o;
}

json::object TaskToJson(const TaskRecord& t, const Fleet* fleet) {
  json::object o = TaskSpecToJson(t.spec);
  o["id"] = t.id;
  o["project"] = t.project;
  o["state"] = ToString(t.state);
  o["attempts"] = t.attempts;
  o["machine_id"] = t.machine_id;
  o["machine_name"] = MachineName(t.machine_id, fleet);
  o["exit_code"] = t.exit_code ? json::value(*t.exit_code) : json::value(nullptr);
  if (t.signal != 0) o["signal"] = t.signal;
  o["reason"] = t.reason;
  o["report"] = TaskReportToJson(t.report);
  if (!t.spec.repo.url.empty()) o["change"] = TaskChangeToJson(t.report.change);
  o["last_log"] = t.last_log;
  o["created_at"] = FormatRfc3339(t.created_at_ms);
  o["assigned_at"] = TimeOrNull(t.assigned_at_ms);
  o["started_at"] = TimeOrNull(t.started_at_ms);
  o["finished_at"] = TimeOrNull(t.finished_at_ms);
  return o;
}

json::object LogChunkToJson(const TaskLogChunk& c) {
  return {{"seq", c.seq},
          {"attempt", c.attempt},
          {"stream", c.stream},
          {"at", FormatRfc3339(c.at_ms)},
          {"data", ValidUtf8(c.data)}};
}

json::object TaskStateToJson(const TaskRecord& t, const Fleet* fleet) {
  return {{"state", ToString(t.state)},
          {"machine_id", t.machine_id},
          {"machine_name", MachineName(t.machine_id, fleet)},
          {"attempts", t.attempts},
          {"reason", t.reason}};
}

}  // namespace autovibe
