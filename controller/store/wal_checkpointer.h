// Moves SQLite's WAL checkpoints off the owner thread: a second connection to the same file,
// on its own thread, copies committed pages from the WAL into the database every interval
// (PASSIVE: it never blocks the writer). Checkpoints are what fsync, so the writer's commits
// stay cheap; the writer keeps a large automatic checkpoint only as a safety net.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/core/result.h"

namespace autovibe {

class WalCheckpointer {
 public:
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                        std::chrono::milliseconds interval);
  ~WalCheckpointer();

 private:
  WalCheckpointer(sqlite3* db, std::chrono::milliseconds interval);
  void Run();

  sqlite3* db_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;         // guarded by mu_
  uint64_t checkpoints_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace autovibe
