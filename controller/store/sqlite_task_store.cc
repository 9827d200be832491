#include "controller/store/sqlite_task_store.h"

#include <boost/json.hpp>

#include "controller/store/sqlite_events.h"
#include "controller/store/sqlite_stmt.h"
#include "controller/store/task_codec.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// Binds ?1..?12: the id and what changes over a task's life.
void BindTaskState(Stmt& st, const TaskRecord& t) {
  st.Reset();
  st.Bind(1, t.id);
  st.Bind(2, ToString(t.state));
  st.Bind(3, t.machine_id);
  st.Bind(4, static_cast<int64_t>(t.attempts));
  if (t.exit_code) {
    st.Bind(5, static_cast<int64_t>(*t.exit_code));
  } else {
    st.BindNull(5);
  }
  st.Bind(6, static_cast<int64_t>(t.signal));
  st.Bind(7, t.reason);
  st.Bind(8, EncodeTaskReport(t.report));
  st.Bind(9, t.last_log);
  st.Bind(10, t.assigned_at_ms);
  st.Bind(11, t.started_at_ms);
  st.Bind(12, t.finished_at_ms);
}

class SqliteTaskStore final : public TaskStore {
 public:
  explicit SqliteTaskStore(sqlite3* db) : db_(db) {}

  // TaskStore
  Result<std::vector<ProjectRecord>> LoadProjects() override {
    Stmt st(db_,
            "SELECT name, created_at, stopped, repo_json FROM projects ORDER BY created_at, name");
    if (!st.ok()) return Fail("load projects");
    std::vector<ProjectRecord> out;
    while (st.Step() == SQLITE_ROW) {
      out.push_back({st.Text(0), st.Int(1), st.Int(2) != 0, DecodeTaskRepo(st.Text(3))});
    }
    return out;
  }

  Result<void> SetProjectRepo(std::string_view name, const TaskRepo& repo) override {
    Stmt st(db_, "UPDATE projects SET repo_json = ?2 WHERE name = ?1");
    if (!st.ok()) return Fail("set project repository");
    st.Bind(1, name);
    st.Bind(2, EncodeTaskRepo(repo));
    if (st.Step() != SQLITE_DONE) return Fail("set the repository of project " + std::string(name));
    return {};
  }

  Result<void> SetProjectStopped(std::string_view name, bool stopped) override {
    Stmt st(db_, "UPDATE projects SET stopped = ?2 WHERE name = ?1");
    if (!st.ok()) return Fail("stop project");
    st.Bind(1, name);
    st.Bind(2, static_cast<int64_t>(stopped ? 1 : 0));
    if (st.Step() != SQLITE_DONE) return Fail("stop project " + std::string(name));
    return {};
  }

  Result<void> InsertProject(const ProjectRecord& p) override {
    Stmt st(db_, "INSERT INTO projects(name, created_at, repo_json) VALUES (?1, ?2, ?3)");
    if (!st.ok()) return Fail("insert project");
    st.Bind(1, p.name);
    st.Bind(2, p.created_at_ms);
    st.Bind(3, EncodeTaskRepo(p.repo));
    int rc = st.Step();
    if (rc == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kConflict, "a project named " + p.name + " exists");
    }
    if (rc != SQLITE_DONE) return Fail("insert project " + p.name);
    return {};
  }

  Result<std::vector<TaskRecord>> LoadTasks() override {
    Stmt st(db_,
            "SELECT id, seq, project, spec_json, state, machine_id, attempts, exit_code, signal,"
            " reason, report_json, last_log, created_at, assigned_at, started_at, finished_at"
            " FROM tasks ORDER BY seq");
    if (!st.ok()) return Fail("load tasks");
    std::vector<TaskRecord> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadTask(st));
    if (rc != SQLITE_DONE) return Fail("load tasks");
    return out;
  }

  // Most saves are state changes of a known task: an UPDATE that leaves the spec (written once,
  // never changed) alone; only a task the store does not have yet is inserted whole.
  Result<void> SaveTask(const TaskRecord& t) override {
    if (!update_) {
      update_ = std::make_unique<Stmt>(
          db_,
          "UPDATE tasks SET state=?2, machine_id=?3, attempts=?4, exit_code=?5, signal=?6,"
          " reason=?7, report_json=?8, last_log=?9, assigned_at=?10, started_at=?11,"
          " finished_at=?12 WHERE id=?1");
      insert_ = std::make_unique<Stmt>(
          db_,
          "INSERT INTO tasks(id, state, machine_id, attempts, exit_code, signal, reason,"
          " report_json, last_log, assigned_at, started_at, finished_at, seq, project, spec_json,"
          " created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)");
    }
    if (!update_->ok() || !insert_->ok()) return Fail("save task");
    BindTaskState(*update_, t);
    if (update_->Step() != SQLITE_DONE) return Fail("save task " + t.id);
    if (sqlite3_changes(db_) == 1) return {};
    Stmt& st = *insert_;
    BindTaskState(st, t);
    st.Bind(13, t.seq);
    st.Bind(14, t.project);
    st.Bind(15, EncodeTaskSpec(t.spec));
    st.Bind(16, t.created_at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("save task " + t.id);
    return {};
  }

  Result<void> AppendTaskLog(std::string_view task_id, const TaskLogChunk& c) override {
    if (!append_log_) {
      append_log_ =
          std::make_unique<Stmt>(db_,
                                 "INSERT INTO task_logs(task_id, seq, attempt, stream, data, at)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING");
    }
    Stmt& st = *append_log_;
    if (!st.ok()) return Fail("append task log");
    st.Reset();
    st.Bind(1, task_id);
    st.Bind(2, c.seq);
    st.Bind(3, static_cast<int64_t>(c.attempt));
    st.Bind(4, c.stream);
    st.Bind(5, c.data);
    st.Bind(6, c.at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("append task log");
    return {};
  }

  Result<std::vector<TaskLogChunk>> TaskLogs(std::string_view task_id, int64_t after_seq,
                                             size_t limit) override {
    Stmt st(db_,
            "SELECT seq, attempt, stream, data, at FROM task_logs WHERE task_id = ?1 AND seq > ?2"
            " ORDER BY seq LIMIT ?3");
    if (!st.ok()) return Fail("task logs");
    st.Bind(1, task_id);
    st.Bind(2, after_seq);
    st.Bind(3, static_cast<int64_t>(limit));
    std::vector<TaskLogChunk> out;
    while (st.Step() == SQLITE_ROW) {
      out.push_back(
          {st.Int(0), static_cast<uint32_t>(st.Int(1)), st.Text(2), st.Text(3), st.Int(4)});
    }
    return out;
  }

  Result<std::vector<std::pair<std::string, int64_t>>> LastLogSeqs() override {
    Stmt st(db_, "SELECT task_id, MAX(seq) FROM task_logs GROUP BY task_id");
    if (!st.ok()) return Fail("last log seqs");
    std::vector<std::pair<std::string, int64_t>> out;
    while (st.Step() == SQLITE_ROW) out.emplace_back(st.Text(0), st.Int(1));
    return out;
  }

  Result<std::vector<StoredEvent>> TaskEvents(std::string_view task_id) override {
    const std::string sql =
        "SELECT " + kEventColumns + " FROM events WHERE task_id = ?1 ORDER BY seq";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("task events");
    st.Bind(1, task_id);
    return ReadEvents(st);
  }

 private:
  static TaskRecord ReadTask(Stmt& st) {
    TaskRecord t;
    t.id = st.Text(0);
    t.seq = st.Int(1);
    t.project = st.Text(2);
    auto parsed = DecodeTaskSpec(st.Text(3));
    if (parsed) {
      t.spec = std::move(*parsed);
    } else {
      // Damaged by hand: keep the row visible, never run it.
      t.state = TaskState::kFailed;
      t.reason = "stored task spec is unreadable: " + parsed.error().message;
    }
    if (parsed) t.state = ParseTaskState(st.Text(4)).value_or(TaskState::kFailed);
    t.machine_id = st.Text(5);
    t.attempts = static_cast<uint32_t>(st.Int(6));
    if (!st.IsNull(7)) t.exit_code = static_cast<int32_t>(st.Int(7));
    t.signal = static_cast<int32_t>(st.Int(8));
    if (t.reason.empty()) t.reason = st.Text(9);
    t.report = DecodeTaskReport(st.Text(10));
    t.last_log = st.Text(11);
    t.created_at_ms = st.Int(12);
    t.assigned_at_ms = st.Int(13);
    t.started_at_ms = st.Int(14);
    t.finished_at_ms = st.Int(15);
    return t;
  }

  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::unique_ptr<Stmt> update_;
  std::unique_ptr<Stmt> insert_;
  std::unique_ptr<Stmt> append_log_;
};

}  // namespace

std::unique_ptr<TaskStore> NewSqliteTaskStore(sqlite3* db) {
  return std::make_unique<SqliteTaskStore>(db);
}

}  // namespace autovibe
