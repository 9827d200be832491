// The audit log in SQLite (tables `audit_log` and `audit_anchor`, migration 13).
#include "controller/store/sqlite_stmt.h"
#include "controller/store/sqlite_task_store.h"

namespace autovibe {
namespace {

constexpr const char* kColumns =
    "seq, at_ms, actor, action, object_kind, object_id, project, remote_address, status, result,"
    " error, details, prev_hash, hash";

AuditRecord ReadRecord(Stmt& st) {
  return AuditRecord{.seq = st.Int(0),
                     .at_ms = st.Int(1),
                     .actor = st.Text(2),
                     .action = st.Text(3),
                     .object_kind = st.Text(4),
                     .object_id = st.Text(5),
                     .project = st.Text(6),
                     .remote_address = st.Text(7),
                     .status = static_cast<int>(st.Int(8)),
                     .result = st.Text(9),
                     .error = st.Text(10),
                     .details = st.Text(11),
                     .prev_hash = st.Text(12),
                     .hash = st.Text(13)};
}

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(sqlite3* db) : db_(db) {}

  Result<void> Append(const AuditRecord& r) override {
    Stmt st(db_, (std::string("INSERT INTO audit_log(") + kColumns +
                  ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)")
                     .c_str());
    if (!st.ok()) return Fail("append audit record");
    st.Bind(1, r.seq);
    st.Bind(2, r.at_ms);
    st.Bind(3, r.actor);
    st.Bind(4, r.action);
    st.Bind(5, r.object_kind);
    st.Bind(6, r.object_id);
    st.Bind(7, r.project);
    st.Bind(8, r.remote_address);
    st.Bind(9, static_cast<int64_t>(r.status));
    st.Bind(10, r.result);
    st.Bind(11, r.error);
    st.Bind(12, r.details);
    st.Bind(13, r.prev_hash);
    st.Bind(14, r.hash);
    if (st.Step() != SQLITE_DONE) return Fail("append audit record " + std::to_string(r.seq));
    return {};
  }

  Result<AuditAnchor> Head() override {
    Stmt st(db_, "SELECT seq, hash, at_ms FROM audit_log ORDER BY seq DESC LIMIT 1");
    if (!st.ok()) return Fail("read the audit head");
    int rc = st.Step();
    if (rc == SQLITE_ROW) return AuditAnchor{st.Int(0), st.Text(1), st.Int(2)};
    if (rc != SQLITE_DONE) return Fail("read the audit head");
    return Anchor();
  }

  Result<AuditAnchor> Anchor() override {
    Stmt st(db_, "SELECT seq, hash, at_ms FROM audit_anchor WHERE id = 1");
    if (!st.ok() || st.Step() != SQLITE_ROW) return Fail("read the audit anchor");
    return AuditAnchor{st.Int(0), st.Text(1), st.Int(2)};
  }

  Result<std::vector<AuditRecord>> Find(const AuditFilter& f) override {
    // Only the filters given, each a plain comparison, so SQLite can use the indexes
    // (migration 13) instead of reading every record for a filter that matches few.
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM audit_log WHERE seq > :after AND seq < :before"
                      " AND at_ms >= :since AND at_ms < :until";
    if (f.actor == "controller") {
      // Every rule: the actors from "controller:" up to "controller;" (':' + 1).
      sql += " AND actor >= 'controller:' AND actor < 'controller;'";
    } else if (!f.actor.empty()) {
      sql += " AND actor = :actor";
    }
    if (!f.project.empty()) sql += " AND project = :project";
    if (!f.object_kind.empty()) sql += " AND object_kind = :kind";
    if (!f.object_id.empty()) sql += " AND object_id = :id";
    sql += f.oldest_first ? " ORDER BY seq ASC" : " ORDER BY seq DESC";
    sql += " LIMIT :limit";
    Stmt st(db_, sql.c_str());
    if (!st.ok()) return Fail("find audit records");
    st.Bind(":after", f.after_seq);
    st.Bind(":before", f.before_seq);
    st.Bind(":since", f.since_ms);
    st.Bind(":until", f.until_ms);
    st.Bind(":actor", f.actor);
    st.Bind(":project", f.project);
    st.Bind(":kind", f.object_kind);
    st.Bind(":id", f.object_id);
    st.Bind(":limit", static_cast<int64_t>(f.limit));
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadRecord(st));
    if (rc != SQLITE_DONE) return Fail("find audit records");
    return out;
  }

  Result<size_t> Prune(int64_t before_ms, size_t limit) override {
    Stmt oldest(db_, "SELECT seq, hash, at_ms FROM audit_log ORDER BY seq LIMIT ?1");
    if (!oldest.ok()) return Fail("prune audit records");
    oldest.Bind(1, static_cast<int64_t>(limit));
    AuditAnchor last;
    size_t n = 0;
    int rc;
    while ((rc = oldest.Step()) == SQLITE_ROW && oldest.Int(2) < before_ms) {
      last = {oldest.Int(0), oldest.Text(1), oldest.Int(2)};
      ++n;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail("prune audit records");
    if (n == 0) return size_t{0};
    // The anchor first: the trigger lets only records at or before it go.
    Stmt anchor(db_,
                "UPDATE audit_anchor SET seq = ?1, hash = ?2, at_ms = ?3, removed = removed + ?4"
                " WHERE id = 1");
    if (!anchor.ok()) return Fail("move the audit anchor");
    anchor.Bind(1, last.seq);
    anchor.Bind(2, last.hash);
    anchor.Bind(3, last.at_ms);
    anchor.Bind(4, static_cast<int64_t>(n));
    if (anchor.Step() != SQLITE_DONE) return Fail("move the audit anchor");
    Stmt del(db_, "DELETE FROM audit_log WHERE seq <= ?1");
    if (!del.ok()) return Fail("prune audit records");
    del.Bind(1, last.seq);
    if (del.Step() != SQLITE_DONE) return Fail("prune audit records");
    return n;
  }

 private:
  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<AuditStore> NewSqliteAuditStore(sqlite3* db) {
  return std::make_unique<SqliteAuditStore>(db);
}

}  // namespace autovibe
