// One-time join tokens in SQLite (table `join_tokens`, migration 9).
#include "controller/store/sqlite_stmt.h"
#include "controller/store/sqlite_task_store.h"

namespace autovibe {
namespace {

class SqliteJoinTokenStore final : public JoinTokenStore {
 public:
  explicit SqliteJoinTokenStore(sqlite3* db) : db_(db) {}

  Result<std::vector<JoinToken>> LoadJoinTokens() override {
    Stmt st(db_,
            "SELECT id, secret, pool, created_at, expires_at, used_at, machine_id"
            " FROM join_tokens ORDER BY created_at, id");
    if (!st.ok()) return Fail("load join tokens");
    std::vector<JoinToken> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      out.push_back(JoinToken{.id = st.Text(0),
                              .secret = st.Text(1),
                              .pool = st.Text(2),
                              .created_at_ms = st.Int(3),
                              .expires_at_ms = st.Int(4),
                              .used_at_ms = st.Int(5),
                              .machine_id = st.Text(6)});
    }
    if (rc != SQLITE_DONE) return Fail("load join tokens");
    return out;
  }

  Result<void> SaveJoinToken(const JoinToken& t) override {
    Stmt st(db_,
            "INSERT INTO join_tokens(id, secret, pool, created_at, expires_at, used_at, machine_id)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(id) DO UPDATE SET secret=?2, pool=?3,"
            " created_at=?4, expires_at=?5, used_at=?6, machine_id=?7");
    if (!st.ok()) return Fail("save join token");
    st.Bind(1, t.id);
    st.Bind(2, t.secret);
    st.Bind(3, t.pool);
    st.Bind(4, t.created_at_ms);
    st.Bind(5, t.expires_at_ms);
    st.Bind(6, t.used_at_ms);
    st.Bind(7, t.machine_id);
    if (st.Step() != SQLITE_DONE) return Fail("save join token " + t.id);
    return {};
  }

  Result<void> DeleteJoinToken(std::string_view id) override {
    Stmt st(db_, "DELETE FROM join_tokens WHERE id = ?1");
    if (!st.ok()) return Fail("delete join token");
    st.Bind(1, id);
    if (st.Step() != SQLITE_DONE) return Fail("delete join token");
    return {};
  }

 private:
  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<JoinTokenStore> NewSqliteJoinTokenStore(sqlite3* db) {
  return std::make_unique<SqliteJoinTokenStore>(db);
}

}  // namespace autovibe
