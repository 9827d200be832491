// A small RAII wrapper over sqlite3_stmt, shared by the SQLite store files.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace autovibe {

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    ok_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) == SQLITE_OK;
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return ok_; }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void Bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
  void BindNull(int i) { sqlite3_bind_null(st_, i); }
  // By name (":name"); a name the statement does not hold is left alone.
  template <class T>
  void Bind(const char* name, T v) {
    if (int i = sqlite3_bind_parameter_index(st_, name); i > 0) Bind(i, v);
  }
  int Step() { return sqlite3_step(st_); }
  void Reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string Text(int i) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : "";
  }
  int64_t Int(int i) { return sqlite3_column_int64(st_, i); }
  bool IsNull(int i) { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  double Real(int i) { return sqlite3_column_double(st_, i); }

 private:
  sqlite3_stmt* st_ = nullptr;
  bool ok_ = false;
};

}  // namespace autovibe
