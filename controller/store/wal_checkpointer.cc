#include "controller/store/wal_checkpointer.h"

#include <spdlog/spdlog.h>

namespace autovibe {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(
    const std::string& path, std::chrono::milliseconds interval) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 1000);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return MakeError(ErrorCode::kStore,
                     "cannot open database " + path + " for checkpoints: " + msg);
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(db, interval));
}

WalCheckpointer::WalCheckpointer(sqlite3* db, std::chrono::milliseconds interval)
    : db_(db), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  sqlite3_close_v2(db_);
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    int log_frames = 0;
    int copied = 0;
    int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("controller store checkpoint failed: {}", sqlite3_errmsg(db_));
    }
    lock.lock();
  }
}

}  // namespace autovibe
