#include <sqlite3.h>

#include <boost/json.hpp>

#include "common/core/files.h"
#include "controller/store/migrations.h"
#include "controller/store/sqlite_budget_store.h"
#include "controller/store/sqlite_events.h"
#include "controller/store/sqlite_stmt.h"
#include "controller/store/sqlite_task_store.h"
#include "controller/store/sqlite_webhook_store.h"
#include "controller/store/store.h"
#include "controller/store/wal_checkpointer.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string LabelsJson(const std::map<std::string, std::string>& labels) {
  json::object o;
  for (const auto& [k, v] : labels) o[k] = v;
  return json::serialize(o);
}

std::string ToolsJson(const std::vector<std::string>& tools) {
  json::array a;
  for (const auto& t : tools) a.emplace_back(t);
  return json::serialize(a);
}

// Stored JSON is written by us; if it was damaged by hand, fall back to empty, never crash.
std::map<std::string, std::string> ParseLabels(const std::string& text) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, val] : v.as_object()) {
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

std::vector<std::string> ParseTools(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& t : v.as_array()) {
    if (t.is_string()) out.emplace_back(t.as_string());
  }
  return out;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db)
      : db_(db),
        tasks_(NewSqliteTaskStore(db)),
        budgets_(NewSqliteBudgetStore(db)),
        checkpoints_(NewSqliteCheckpointStore(db)),
        join_tokens_(NewSqliteJoinTokenStore(db)),
        api_tokens_(NewSqliteApiTokenStore(db)),
        webhooks_(NewSqliteWebhookStore(db)),
        audit_(NewSqliteAuditStore(db)) {}
  ~SqliteStore() override {
    checkpointer_.reset();
    append_event_.reset();
    mark_applied_.reset();
    tasks_.reset();  // its cached statements go before the connection
    budgets_.reset();
    checkpoints_.reset();
    join_tokens_.reset();
    api_tokens_.reset();
    audit_.reset();
    sqlite3_close_v2(db_);
  }

  Result<void> Init(const std::string& path) {
    // WAL lets readers (backups, the CLI's sqlite3) run beside the controller; NORMAL sync is
    // durable across process crashes, which is what kill -9 tests. Checkpoints (the fsyncs)
    // run on the checkpointer's thread; the writer checkpoints itself only past ~40 MB of WAL.
    // A 64 MiB page cache keeps the hot pages of a busy fleet off the disk path.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                               "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000",
                               "PRAGMA wal_autocheckpoint=10000", "PRAGMA cache_size=-65536"}) {
      if (sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return Fail(pragma);
      }
    }
    auto v = Migrate(db_);
    if (!v) return v.error();
    auto checkpointer = WalCheckpointer::Start(path, std::chrono::seconds(1));
    if (!checkpointer) return checkpointer.error();
    checkpointer_ = std::move(*checkpointer);
    return {};
  }

  // Store
  Result<std::vector<MachineRecord>> LoadMachines() override {
    Stmt st(
        db_,
        "SELECT id, name, backend, state, labels_json, tools_json, cpu_cores, mem_total_bytes,"
        " mem_used_bytes, disk_total_bytes, disk_free_bytes, load1, agent_version,"
        " last_heartbeat_at, registered_at, created_at, instance_id, task_slots, pool, instance,"
        " spawned_from FROM machines"
        " ORDER BY created_at, id");
    if (!st.ok()) return Fail("load machines");
    std::vector<MachineRecord> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      MachineRecord m;
      m.id = st.Text(0);
      m.name = st.Text(1);
      m.backend = st.Text(2);
      m.state = ParseMachineState(st.Text(3)).value_or(MachineState::kLost);
      m.labels = ParseLabels(st.Text(4));
      m.tools = ParseTools(st.Text(5));
      m.resources.cpu_cores = static_cast<uint32_t>(st.Int(6));
      m.resources.mem_total_bytes = static_cast<uint64_t>(st.Int(7));
      m.resources.mem_used_bytes = static_cast<uint64_t>(st.Int(8));
      m.resources.disk_total_bytes = static_cast<uint64_t>(st.Int(9));
      m.resources.disk_free_bytes = static_cast<uint64_t>(st.Int(10));
      m.resources.load1 = st.Real(11);
      m.agent_version = st.Text(12);
      m.last_heartbeat_at_ms = st.Int(13);
      m.registered_at_ms = st.Int(14);
      m.created_at_ms = st.Int(15);
      m.instance_id = st.Text(16);
      m.task_slots = static_cast<uint32_t>(st.Int(17));
      m.pool = st.Text(18);
      m.instance = st.Text(19);
      m.spawned_from = st.Text(20);
      out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return Fail("load machines");
    return out;
  }

  Result<void> SaveMachine(const MachineRecord& m) override {
    Stmt st(db_,
            "INSERT INTO machines(id, name, backend, state, labels_json, tools_json, cpu_cores,"
            " mem_total_bytes, mem_used_bytes, disk_total_bytes, disk_free_bytes, load1,"
            " agent_version, last_heartbeat_at, registered_at, created_at, instance_id, task_slots,"
            " pool, instance, spawned_from)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)"
            " ON CONFLICT(id) DO UPDATE SET name=?2, backend=?3, state=?4, labels_json=?5,"
            " tools_json=?6, cpu_cores=?7, mem_total_bytes=?8, mem_used_bytes=?9,"
            " disk_total_bytes=?10, disk_free_bytes=?11, load1=?12, agent_version=?13,"
            " last_heartbeat_at=?14, registered_at=?15, instance_id=?17, task_slots=?18, pool=?19,"
            " instance=?20, spawned_from=?21");
    if (!st.ok()) return Fail("save machine");
    st.Bind(1, m.id);
    st.Bind(2, m.name);
    st.Bind(3, m.backend);
    st.Bind(4, ToString(m.state));
    st.Bind(5, LabelsJson(m.labels));
    st.Bind(6, ToolsJson(m.tools));
    BindResources(st, 7, m.resources);
    st.Bind(13, m.agent_version);
    st.Bind(14, m.last_heartbeat_at_ms);
    st.Bind(15, m.registered_at_ms);
    st.Bind(16, m.created_at_ms);
    st.Bind(17, m.instance_id);
    st.Bind(18, static_cast<int64_t>(m.task_slots));
    st.Bind(19, m.pool);
    st.Bind(20, m.instance);
    st.Bind(21, m.spawned_from);
    if (st.Step() != SQLITE_DONE) return Fail("save machine " + m.id);
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> LoadCredentials() override {
    Stmt st(db_, "SELECT machine_id, password FROM machine_credentials ORDER BY machine_id");
    if (!st.ok()) return Fail("load credentials");
    std::vector<std::pair<std::string, std::string>> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.emplace_back(st.Text(0), st.Text(1));
    if (rc != SQLITE_DONE) return Fail("load credentials");
    return out;
  }

  Result<void> SaveCredential(std::string_view machine_id, std::string_view password,
                              int64_t at_ms) override {
    Stmt st(db_,
            "INSERT INTO machine_credentials(machine_id, password, created_at) VALUES (?1,?2,?3)"
            " ON CONFLICT(machine_id) DO UPDATE SET password=?2, created_at=?3");
    if (!st.ok()) return Fail("save credential");
    st.Bind(1, std::string(machine_id));
    st.Bind(2, std::string(password));
    st.Bind(3, at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("save credential");
    return {};
  }

  Result<void> DeleteCredential(std::string_view machine_id) override {
    Stmt st(db_, "DELETE FROM machine_credentials WHERE machine_id = ?1");
    if (!st.ok()) return Fail("delete credential");
    st.Bind(1, std::string(machine_id));
    if (st.Step() != SQLITE_DONE) return Fail("delete credential");
    return {};
  }

  Result<std::vector<MachineCheckpointRecord>> LoadMachineCheckpoints() override {
    Stmt st(db_,
            "SELECT id, machine_id, pool, backend, ref, state, error, created_at"
            " FROM machine_checkpoints ORDER BY created_at, id");
    if (!st.ok()) return Fail("load machine checkpoints");
    std::vector<MachineCheckpointRecord> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      out.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5),
                     st.Text(6), st.Int(7)});
    }
    if (rc != SQLITE_DONE) return Fail("load machine checkpoints");
    return out;
  }

  Result<void> SaveMachineCheckpoint(const MachineCheckpointRecord& c) override {
    Stmt st(db_,
            "INSERT INTO machine_checkpoints(id, machine_id, pool, backend, ref, state, error,"
            " created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE SET"
            " ref=?5, state=?6, error=?7");
    if (!st.ok()) return Fail("save machine checkpoint");
    st.Bind(1, c.id);
    st.Bind(2, c.machine_id);
    st.Bind(3, c.pool);
    st.Bind(4, c.backend);
    st.Bind(5, c.ref);
    st.Bind(6, c.state);
    st.Bind(7, c.error);
    st.Bind(8, c.created_at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("save machine checkpoint " + c.id);
    return {};
  }

  Result<void> DeleteMachineCheckpoint(std::string_view id) override {
    Stmt st(db_, "DELETE FROM machine_checkpoints WHERE id = ?1");
    if (!st.ok()) return Fail("delete machine checkpoint");
    st.Bind(1, std::string(id));
    if (st.Step() != SQLITE_DONE) return Fail("delete machine checkpoint");
    return {};
  }

  Result<void> SaveHeartbeats(const std::vector<const MachineRecord*>& machines) override {
    if (machines.empty()) return {};
    const bool own_txn = !in_txn_;
    if (own_txn && sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Fail("begin");
    }
    Stmt st(db_,
            "UPDATE machines SET cpu_cores=?7, mem_total_bytes=?8, mem_used_bytes=?9,"
            " disk_total_bytes=?10, disk_free_bytes=?11, load1=?12, last_heartbeat_at=?2"
            " WHERE id=?1");
    bool ok = st.ok();
    for (const MachineRecord* m : machines) {
      if (!ok) break;
      st.Bind(1, m->id);
      st.Bind(2, m->last_heartbeat_at_ms);
      BindResources(st, 7, m->resources);
      ok = st.Step() == SQLITE_DONE;
      st.Reset();
    }
    if (!ok) {
      Error e =
          MakeError(ErrorCode::kStore, std::string("save heartbeats: ") + sqlite3_errmsg(db_));
      if (own_txn) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
    if (own_txn && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Fail("commit");
    }
    return {};
  }

  Result<void> AppendEvent(const StoredEvent& e) override {
    if (!append_event_) {
      append_event_ = std::make_unique<Stmt>(
          db_,
          "INSERT INTO events(at, kind, machine_id, detail, task_id, project) "
          "VALUES (?1,?2,?3,?4,?5,?6)");
    }
    Stmt& st = *append_event_;
    if (!st.ok()) return Fail("append event");
    st.Reset();
    st.Bind(1, e.at_ms);
    st.Bind(2, e.kind);
    if (e.machine_id.empty()) {
      st.BindNull(3);
    } else {
      st.Bind(3, e.machine_id);
    }
    st.Bind(4, e.detail_json.empty() ? std::string_view("{}") : std::string_view(e.detail_json));
    if (e.task_id.empty()) {
      st.BindNull(5);
    } else {
      st.Bind(5, e.task_id);
    }
    st.Bind(6, e.project);
    if (st.Step() != SQLITE_DONE) return Fail("append event " + e.kind);
    EventAppended();
    return {};
  }

  Result<std::vector<StoredEvent>> EventsAfter(int64_t after, int64_t upto, size_t limit) override {
    const std::string sql = "SELECT " + kEventColumns +
                            " FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("events after");
    st.Bind(1, after);
    st.Bind(2, upto);
    st.Bind(3, static_cast<int64_t>(limit));
    return ReadEvents(st);
  }

  Result<std::vector<StoredEvent>> LastEvents(int64_t upto, size_t limit,
                                              std::optional<std::string> project) override {
    // By project through the events_project index.
    const std::string sql = "SELECT * FROM (SELECT " + kEventColumns + " FROM events WHERE " +
                            (project ? "project = ?3 AND " : "") +
                            "seq <= ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("last events");
    st.Bind(1, upto);
    st.Bind(2, static_cast<int64_t>(limit));
    if (project) st.Bind(3, *project);
    return ReadEvents(st);
  }

  Result<int64_t> LastEventSeq() override {
    Stmt st(db_, "SELECT COALESCE(MAX(seq), 0) FROM events");
    if (!st.ok() || st.Step() != SQLITE_ROW) return Fail("last event");
    return st.Int(0);
  }

  Result<std::vector<StoredEvent>> MachineEvents(std::string_view machine_id) override {
    Stmt st(db_,
            "SELECT seq, at, kind, machine_id, detail FROM events WHERE machine_id = ?1"
            " ORDER BY seq");
    if (!st.ok()) return Fail("machine events");
    st.Bind(1, machine_id);
    std::vector<StoredEvent> out;
    while (st.Step() == SQLITE_ROW) {
      out.push_back({st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4)});
    }
    return out;
  }

  Result<bool> MarkAgentEventApplied(std::string_view event_id, int64_t at_ms) override {
    if (!mark_applied_) {
      mark_applied_ = std::make_unique<Stmt>(
          db_,
          "INSERT INTO applied_agent_events(event_id, applied_at) VALUES (?1, ?2)"
          " ON CONFLICT(event_id) DO NOTHING");
    }
    Stmt& st = *mark_applied_;
    if (!st.ok()) return Fail("mark event");
    st.Reset();
    st.Bind(1, event_id);
    st.Bind(2, at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("mark event");
    return sqlite3_changes(db_) == 1;
  }

  Result<size_t> ForgetAgentEventsBefore(int64_t before_ms, size_t limit) override {
    Stmt st(db_,
            "DELETE FROM applied_agent_events WHERE rowid IN (SELECT rowid FROM "
            "applied_agent_events WHERE applied_at < ?1 ORDER BY applied_at LIMIT ?2)");
    if (!st.ok()) return Fail("forget events");
    st.Bind(1, before_ms);
    st.Bind(2, static_cast<int64_t>(limit));
    if (st.Step() != SQLITE_DONE) return Fail("forget events");
    return static_cast<size_t>(sqlite3_changes(db_));
  }

  Result<int> SchemaVersion() override { return autovibe::SchemaVersion(db_); }

  TaskStore& tasks() override { return *tasks_; }
  BudgetStore& budgets() override { return *budgets_; }
  CheckpointCatalogueStore& checkpoints() override { return *checkpoints_; }
  JoinTokenStore& join_tokens() override { return *join_tokens_; }
  ApiTokenStore& api_tokens() override { return *api_tokens_; }
  WebhookStore& webhooks() override { return *webhooks_; }
  AuditStore& audit() override { return *audit_; }

  Result<void> Begin() override {
    if (in_txn_) return {};
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return Fail("begin");
    in_txn_ = true;
    return {};
  }

  Result<void> Commit() override {
    if (!in_txn_) return {};
    in_txn_ = false;
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Error e = Fail("commit");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
    return {};
  }

  bool InTransaction() const override { return in_txn_; }

  Result<void> Savepoint(std::string_view name) override {
    return Exec("SAVEPOINT " + Identifier(name), "savepoint");
  }
  Result<void> RollbackTo(std::string_view name) override {
    return Exec("ROLLBACK TO " + Identifier(name), "rollback to savepoint");
  }
  Result<void> RefuseWritesForTest(bool refuse) override {
    return Exec(refuse ? "PRAGMA query_only = ON" : "PRAGMA query_only = OFF", "query_only");
  }
  Result<void> Release(std::string_view name) override {
    return Exec("RELEASE " + Identifier(name), "release savepoint");
  }

 private:
  // Savepoint names are ours, never input; quoted all the same.
  static std::string Identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }
  Result<void> Exec(const std::string& sql, const std::string& what) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return Fail(what);
    return {};
  }

  static void BindResources(Stmt& st, int first, const Resources& r) {
    st.Bind(first, static_cast<int64_t>(r.cpu_cores));
    st.Bind(first + 1, static_cast<int64_t>(r.mem_total_bytes));
    st.Bind(first + 2, static_cast<int64_t>(r.mem_used_bytes));
    st.Bind(first + 3, static_cast<int64_t>(r.disk_total_bytes));
    st.Bind(first + 4, static_cast<int64_t>(r.disk_free_bytes));
    st.Bind(first + 5, r.load1);
  }

  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::unique_ptr<TaskStore> tasks_;
  std::unique_ptr<BudgetStore> budgets_;
  std::unique_ptr<CheckpointCatalogueStore> checkpoints_;
  std::unique_ptr<JoinTokenStore> join_tokens_;
  std::unique_ptr<ApiTokenStore> api_tokens_;
  std::unique_ptr<WebhookStore> webhooks_;
  std::unique_ptr<AuditStore> audit_;
  std::unique_ptr<Stmt> append_event_;
  std::unique_ptr<Stmt> mark_applied_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  bool in_txn_ = false;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  // SQLite creates the database with the umask's mode, and its log files with the database's:
  // the database is made private first, and what an older controller left is tightened.
  if (auto r = MakePrivateFile(path); !r) return r.error();
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (auto r = MakePrivateFile(path + suffix, false); !r) return r.error();
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return MakeError(ErrorCode::kStore, "cannot open database " + path + ": " + msg);
  }
  auto store = std::make_unique<SqliteStore>(db);
  if (auto r = store->Init(path); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace autovibe
