// Backups of the controller's state: its SQLite database, copied with SQLite's online backup
// (consistent while the controller runs and writes), and restored into a stopped controller's
// data dir. A lock on the data dir keeps two controllers, or a restore and a controller, apart.
#pragma once

#include <cstdint>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct BackupInfo {
  std::string path;
  int64_t bytes = 0;
  int schema_version = 0;
};

// Copies the database at `db_path` to `to` (written next to it first, synced, then renamed
// into place). Errors: not_found (no database), store (SQLite failed), unavailable (`to`
// cannot be written).
Result<BackupInfo> BackupDatabase(const std::string& db_path, const std::string& to);

// Puts the backup at `from` in place of the database at `db_path` (its WAL and shared-memory
// files go). The backup is checked first: a SQLite file that passes its integrity check and
// carries a controller schema this binary knows. Errors: not_found, bad_request (not a
// controller backup, damaged, or from a newer controller), store, unavailable.
Result<BackupInfo> RestoreDatabase(const std::string& from, const std::string& db_path);

// Removes the oldest controller-*.db backups in `dir` beyond the `keep` newest; returns how
// many went.
int PruneBackups(const std::string& dir, int keep);

// The name a scheduled backup taken at `unix_ms` gets: controller-YYYYMMDDTHHMMSSZ.db.
std::string BackupFileName(int64_t unix_ms);

// An exclusive lock on `data_dir`/controller.lock, held while the object lives. Errors:
// conflict (another process holds it: a controller runs on this data dir), unavailable.
class DataDirLock {
 public:
  static Result<DataDirLock> Take(const std::string& data_dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace autovibe
