#include "controller/store/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "common/core/files.h"
#include "controller/store/migrations.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close_v2(db); }
};

Result<void> Open(Db& d, const std::string& path, int flags) {
  const int rc = sqlite3_open_v2(path.c_str(), &d.db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return MakeError(ErrorCode::kStore, "cannot open " + path + ": " +
                                            (d.db ? sqlite3_errmsg(d.db) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(d.db, 5000);
  return {};
}

// The whole of `src` into `dst` in one step: one read transaction, so the copy is one moment
// of the database (in WAL mode the controller's writes go on meanwhile; copied in pieces, each
// write would start the copy over).
Result<void> Copy(sqlite3* src, sqlite3* dst) {
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == nullptr)
    return MakeError(ErrorCode::kStore, std::string("backup: ") + sqlite3_errmsg(dst));
  int rc;
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    sqlite3_sleep(10);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE)
    return MakeError(ErrorCode::kStore, std::string("backup: ") + sqlite3_errstr(rc));
  return {};
}

Result<void> SyncFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    const std::string e = std::strerror(errno);
    if (fd >= 0) close(fd);
    return MakeError(ErrorCode::kUnavailable, "cannot sync " + path + ": " + e);
  }
  close(fd);
  return {};
}

// Checks a database file is a controller's, whole, of a schema this binary knows.
Result<int> Check(sqlite3* db, const std::string& path) {
  sqlite3_stmt* st = nullptr;
  std::string verdict;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    verdict = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  } else {
    verdict = sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  if (verdict != "ok") {
    return MakeError(ErrorCode::kBadRequest, path + " is not a whole SQLite database: " + verdict);
  }
  auto version = SchemaVersion(db);
  if (!version || *version == 0) {
    return MakeError(ErrorCode::kBadRequest, path + " is not a backup of an autovibe controller");
  }
  const int known = AllMigrations().back().version;
  if (*version > known) {
    return MakeError(ErrorCode::kBadRequest, path + " comes from a newer controller (schema " +
                                                 std::to_string(*version) + ", this one knows " +
                                                 std::to_string(known) + ")");
  }
  return *version;
}

// `from` (an open database) copied to `to` through a temporary file beside it.
Result<BackupInfo> CopyTo(sqlite3* from, const std::string& to, int version) {
  const std::string tmp = to + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  // Private before it holds anything (SQLite would create it with the umask's mode).
  if (auto r = MakePrivateFile(tmp); !r)
    return MakeError(ErrorCode::kUnavailable, r.error().message);
  {
    Db out;
    if (auto r = Open(out, tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE); !r) {
      return MakeError(ErrorCode::kUnavailable, r.error().message);
    }
    if (auto r = Copy(from, out.db); !r) {
      fs::remove(tmp, ec);
      return r.error();
    }
  }
  if (auto r = SyncFile(tmp); !r) return r.error();
  fs::rename(tmp, to, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot write " + to + ": " + ec.message());
  BackupInfo info{.path = to, .schema_version = version};
  info.bytes = static_cast<int64_t>(fs::file_size(to, ec));
  return info;
}

}  // namespace

Result<BackupInfo> BackupDatabase(const std::string& db_path, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(db_path, ec)) {
    return MakeError(ErrorCode::kNotFound, "no controller database at " + db_path);
  }
  Db src;
  if (auto r = Open(src, db_path, SQLITE_OPEN_READONLY); !r) return r.error();
  auto version = SchemaVersion(src.db);
  if (!version) return version.error();
  return CopyTo(src.db, to, *version);
}

Result<BackupInfo> RestoreDatabase(const std::string& from, const std::string& db_path) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec))
    return MakeError(ErrorCode::kNotFound, "no backup at " + from);
  Db src;
  if (auto r = Open(src, from, SQLITE_OPEN_READONLY); !r) {
    return MakeError(ErrorCode::kBadRequest, r.error().message);
  }
  auto version = Check(src.db, from);
  if (!version) return version.error();
  auto info = CopyTo(src.db, db_path, *version);
  if (!info) return info.error();
  // The old database's log would be replayed over the restored one.
  fs::remove(db_path + "-wal", ec);
  fs::remove(db_path + "-shm", ec);
  return info;
}

int PruneBackups(const std::string& dir, int keep) {
  std::vector<fs::path> backups;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("controller-") && name.ends_with(".db")) backups.push_back(e.path());
  }
  // The names sort as the times they were taken.
  std::sort(backups.begin(), backups.end());
  int removed = 0;
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 0)) < backups.size(); ++i) {
    removed += fs::remove(backups[i], ec) ? 1 : 0;
  }
  return removed;
}

std::string BackupFileName(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "controller-%Y%m%dT%H%M%SZ.db", &tm);
  return buf;
}

Result<DataDirLock> DataDirLock::Take(const std::string& data_dir) {
  const std::string path = data_dir + "/controller.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(fd);
    if (e == EWOULDBLOCK) {
      return MakeError(ErrorCode::kConflict, "a controller is running on " + data_dir +
                                                 " (it holds " + path + "): stop it first");
    }
    return MakeError(ErrorCode::kUnavailable, "cannot lock " + path + ": " + std::strerror(e));
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace autovibe
