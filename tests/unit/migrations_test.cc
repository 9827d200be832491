#include "controller/store/migrations.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "controller/store/store.h"
#include "tests/support/process.h"

using namespace autovibe;
using autovibe::testing::TempDir;

namespace {

struct Db {
  explicit Db(const std::string& path) { sqlite3_open(path.c_str(), &db); }
  ~Db() { sqlite3_close(db); }
  int Count(const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
  }
  sqlite3* db = nullptr;
};

}  // namespace

TEST_CASE("a fresh database migrates to the latest version, once") {
  TempDir dir;
  Db db(dir / "c.db");
  const int latest = AllMigrations().back().version;
  REQUIRE(*Migrate(db.db) == latest);
  CHECK(db.Count("SELECT COUNT(*) FROM schema_migrations") ==
        static_cast<int>(AllMigrations().size()));
  CHECK(db.Count("SELECT COUNT(*) FROM machines") == 0);
  // Running again changes nothing.
  REQUIRE(*Migrate(db.db) == latest);
  CHECK(db.Count("SELECT COUNT(*) FROM schema_migrations") ==
        static_cast<int>(AllMigrations().size()));
}

TEST_CASE("an older database migrates forward keeping its rows") {
  TempDir dir;
  Db db(dir / "c.db");
  auto first = AllMigrations().subspan(0, 1);
  REQUIRE(*Migrate(db.db, first) == 1);
  REQUIRE(
      sqlite3_exec(db.db,
                   "INSERT INTO machines(id, name, state, created_at) VALUES ('m-1','a','ready',1)",
                   nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(*Migrate(db.db) == AllMigrations().back().version);
  CHECK(db.Count("SELECT COUNT(*) FROM machines WHERE name = 'a'") == 1);
}

TEST_CASE("checkpoints from before the order of receipt keep the order of their dates") {
  TempDir dir;
  Db db(dir / "c.db");
  REQUIRE(*Migrate(db.db, AllMigrations().subspan(0, 8)) == 8);
  REQUIRE(sqlite3_exec(db.db,
                       "INSERT INTO checkpoints(id, machine_id, trigger_kind, created_at) VALUES "
                       "('cp-b','m','auto',20), ('cp-c','m','auto',30), ('cp-a','m','auto',10)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(*Migrate(db.db) == AllMigrations().back().version);
  CHECK(db.Count("SELECT received_seq FROM checkpoints WHERE id = 'cp-a'") == 1);
  CHECK(db.Count("SELECT received_seq FROM checkpoints WHERE id = 'cp-b'") == 2);
  CHECK(db.Count("SELECT received_seq FROM checkpoints WHERE id = 'cp-c'") == 3);
}

TEST_CASE("a database from a newer controller is refused, untouched") {
  TempDir dir;
  Db db(dir / "c.db");
  REQUIRE(Migrate(db.db));
  REQUIRE(sqlite3_exec(db.db, "INSERT INTO schema_migrations VALUES (999, 'future', 0)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  auto r = Migrate(db.db);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("newer") != std::string::npos);
}

TEST_CASE("a failing migration rolls back and leaves the version as it was") {
  TempDir dir;
  Db db(dir / "c.db");
  static const Migration broken[] = {
      {1, "ok", "CREATE TABLE t1(x INTEGER);"},
      {2, "broken", "CREATE TABLE t2(x INTEGER); SELECT nope FROM nowhere;"}};
  auto r = Migrate(db.db, broken);
  REQUIRE_FALSE(r);
  CHECK(*SchemaVersion(db.db) == 1);
  CHECK(db.Count("SELECT COUNT(*) FROM sqlite_master WHERE name = 't2'") == 0);
}

TEST_CASE("the store opens with WAL and foreign keys on") {
  TempDir dir;
  auto store = OpenSqliteStore(dir / "c.db");
  REQUIRE(store);
  Db db(dir / "c.db");
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.db, "PRAGMA journal_mode", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  // Foreign keys: an event for a machine that does not exist is refused.
  StoredEvent ev{0, 1, "machine.registered", "m-missing", "{}"};
  CHECK_FALSE((*store)->AppendEvent(ev));
}
