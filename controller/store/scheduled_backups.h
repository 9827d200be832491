// The database copied into a directory every `every` (off the owner thread: the copy reads
// through a connection of its own), the oldest beyond `keep` removed. Owner-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "common/core/duration.h"
#include "common/core/time.h"

namespace autovibe {

struct ScheduledBackupsOptions {
  std::string database;  // the controller's controller.db
  std::string dir;       // where the copies go
  Duration every{0};     // 0: no scheduled backups
  int keep = 7;
};

class ScheduledBackups {
 public:
  // The copies run on `blocking`.
  ScheduledBackups(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                   const Clock& clock, ScheduledBackupsOptions options);

  void Start();
  void Stop();

 private:
  void Schedule();

  boost::asio::thread_pool& blocking_;
  const Clock& clock_;
  ScheduledBackupsOptions options_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace autovibe
