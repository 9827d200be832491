// The checkpoint catalogue in SQLite (table `checkpoints`, migrations 6, 7 and 9).
#include <boost/json.hpp>

#include "controller/store/sqlite_stmt.h"
#include "controller/store/sqlite_task_store.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string CopiesJson(const std::set<std::string>& copies) {
  json::array a;
  for (const auto& m : copies) a.emplace_back(m);
  return json::serialize(a);
}

std::set<std::string> ParseCopies(const std::string& text) {
  std::set<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& m : v.as_array()) {
    if (m.is_string()) out.emplace(m.as_string());
  }
  return out;
}

class SqliteCheckpointStore final : public CheckpointCatalogueStore {
 public:
  explicit SqliteCheckpointStore(sqlite3* db) : db_(db) {}

  Result<std::vector<CheckpointRecord>> LoadCheckpoints() override {
    Stmt st(db_,
            "SELECT id, machine_id, task_id, attempt, parent, trigger_kind, label, workspace, "
            "files, bytes, stored_bytes, created_at, verified_at, copies_json, root, received_seq "
            "FROM checkpoints ORDER BY received_seq, id");
    if (!st.ok()) return Fail("load checkpoints");
    std::vector<CheckpointRecord> out;
    while (st.Step() == SQLITE_ROW) {
      CheckpointRecord c;
      c.id = st.Text(0);
      c.machine_id = st.Text(1);
      c.task_id = st.Text(2);
      c.attempt = static_cast<uint32_t>(st.Int(3));
      c.parent = st.Text(4);
      c.trigger = st.Text(5);
      c.label = st.Text(6);
      c.workspace = st.Text(7);
      c.files = static_cast<uint64_t>(st.Int(8));
      c.bytes = static_cast<uint64_t>(st.Int(9));
      c.stored_bytes = static_cast<uint64_t>(st.Int(10));
      c.created_at_ms = st.Int(11);
      c.verified_at_ms = st.Int(12);
      c.copies = ParseCopies(st.Text(13));
      c.root = st.Text(14);
      c.received_seq = static_cast<uint64_t>(st.Int(15));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<void> SaveCheckpoint(const CheckpointRecord& c) override {
    if (!save_) {
      save_ = std::make_unique<Stmt>(
          db_,
          "INSERT OR REPLACE INTO checkpoints (id, machine_id, task_id, attempt, parent, "
          "trigger_kind, label, workspace, files, bytes, stored_bytes, created_at, verified_at, "
          "copies_json, root, received_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
          "?12, ?13, ?14, ?15, ?16)");
    }
    Stmt& st = *save_;
    if (!st.ok()) return Fail("save checkpoint");
    st.Reset();
    st.Bind(1, c.id);
    st.Bind(2, c.machine_id);
    st.Bind(3, c.task_id);
    st.Bind(4, static_cast<int64_t>(c.attempt));
    st.Bind(5, c.parent);
    st.Bind(6, c.trigger);
    st.Bind(7, c.label);
    st.Bind(8, c.workspace);
    st.Bind(9, static_cast<int64_t>(c.files));
    st.Bind(10, static_cast<int64_t>(c.bytes));
    st.Bind(11, static_cast<int64_t>(c.stored_bytes));
    st.Bind(12, c.created_at_ms);
    st.Bind(13, c.verified_at_ms);
    st.Bind(14, CopiesJson(c.copies));
    st.Bind(15, c.root);
    st.Bind(16, static_cast<int64_t>(c.received_seq));
    if (st.Step() != SQLITE_DONE) return Fail("save checkpoint " + c.id);
    return {};
  }

  Result<void> DeleteCheckpoint(std::string_view id) override {
    Stmt st(db_, "DELETE FROM checkpoints WHERE id = ?1");
    if (!st.ok()) return Fail("delete checkpoint");
    st.Bind(1, id);
    if (st.Step() != SQLITE_DONE) return Fail("delete checkpoint " + std::string(id));
    return {};
  }

 private:
  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::unique_ptr<Stmt> save_;
};

}  // namespace

std::unique_ptr<CheckpointCatalogueStore> NewSqliteCheckpointStore(sqlite3* db) {
  return std::make_unique<SqliteCheckpointStore>(db);
}

}  // namespace autovibe
