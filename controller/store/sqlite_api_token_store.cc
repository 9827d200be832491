// API tokens in SQLite (table `api_tokens`, migration 13): names, roles, scopes and the
// SHA-256 of each token; never a token itself.
#include <boost/json.hpp>

#include "controller/store/sqlite_stmt.h"
#include "controller/store/sqlite_task_store.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string ProjectsJson(const std::vector<std::string>& projects) {
  json::array a;
  for (const auto& p : projects) a.emplace_back(p);
  return json::serialize(a);
}

// Written by us; a value damaged by hand reads as no project at all, which would widen the
// token: such a row is refused instead (the caller skips it).
std::optional<std::vector<std::string>> ParseProjects(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& p : v.as_array()) {
    if (!p.is_string()) return std::nullopt;
    out.emplace_back(p.as_string());
  }
  return out;
}

class SqliteApiTokenStore final : public ApiTokenStore {
 public:
  explicit SqliteApiTokenStore(sqlite3* db) : db_(db) {}

  Result<std::vector<ApiToken>> LoadApiTokens() override {
    Stmt st(db_,
            "SELECT name, role, projects_json, hash, created_at, expires_at, last_used_at"
            " FROM api_tokens ORDER BY created_at, name");
    if (!st.ok()) return Fail("load API tokens");
    std::vector<ApiToken> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      auto role = ParseRole(st.Text(1));
      auto projects = ParseProjects(st.Text(2));
      if (!role || !projects) {
        return MakeError(ErrorCode::kCorrupt,
                         "API token " + st.Text(0) + " has a damaged role or project list");
      }
      out.push_back(ApiToken{.name = st.Text(0),
                             .role = *role,
                             .projects = std::move(*projects),
                             .hash = st.Text(3),
                             .created_at_ms = st.Int(4),
                             .expires_at_ms = st.Int(5),
                             .last_used_at_ms = st.Int(6)});
    }
    if (rc != SQLITE_DONE) return Fail("load API tokens");
    return out;
  }

  Result<void> InsertApiToken(const ApiToken& t) override {
    Stmt st(db_,
            "INSERT INTO api_tokens(name, role, projects_json, hash, created_at, expires_at,"
            " last_used_at) VALUES (?1,?2,?3,?4,?5,?6,?7)");
    if (!st.ok()) return Fail("insert API token");
    st.Bind(1, t.name);
    st.Bind(2, ToString(t.role));
    st.Bind(3, ProjectsJson(t.projects));
    st.Bind(4, t.hash);
    st.Bind(5, t.created_at_ms);
    st.Bind(6, t.expires_at_ms);
    st.Bind(7, t.last_used_at_ms);
    const int rc = st.Step();
    if (rc == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kConflict, "a token named " + t.name + " exists");
    }
    if (rc != SQLITE_DONE) return Fail("insert API token " + t.name);
    return {};
  }

  Result<void> SetApiTokenLastUsed(std::string_view name, int64_t at_ms) override {
    Stmt st(db_, "UPDATE api_tokens SET last_used_at = ?2 WHERE name = ?1");
    if (!st.ok()) return Fail("note an API token's use");
    st.Bind(1, name);
    st.Bind(2, at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("note an API token's use");
    return {};
  }

  Result<void> DeleteApiToken(std::string_view name) override {
    Stmt st(db_, "DELETE FROM api_tokens WHERE name = ?1");
    if (!st.ok()) return Fail("delete API token");
    st.Bind(1, name);
    if (st.Step() != SQLITE_DONE) return Fail("delete API token");
    return {};
  }

 private:
  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<ApiTokenStore> NewSqliteApiTokenStore(sqlite3* db) {
  return std::make_unique<SqliteApiTokenStore>(db);
}

}  // namespace autovibe
