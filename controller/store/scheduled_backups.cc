#include "controller/store/scheduled_backups.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "common/core/files.h"
#include "controller/store/backup.h"

namespace autovibe {

ScheduledBackups::ScheduledBackups(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                                   const Clock& clock, ScheduledBackupsOptions options)
    : blocking_(blocking), clock_(clock), options_(std::move(options)), timer_(ioc) {}

void ScheduledBackups::Start() {
  if (options_.every.count() > 0) Schedule();
}

void ScheduledBackups::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void ScheduledBackups::Schedule() {
  timer_.expires_after(options_.every);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    boost::asio::post(blocking_, [dir = options_.dir, db = options_.database, keep = options_.keep,
                                  now = clock_.NowMs()] {
      if (auto r = MakeDirs(dir, 0700); !r) {
        spdlog::error("backup: {}", r.error().message);
        return;
      }
      auto b = BackupDatabase(db, dir + "/" + BackupFileName(now));
      if (!b) {
        spdlog::error("backup failed: {}", b.error().message);
        return;
      }
      spdlog::info("backup written path={} bytes={} pruned={}", b->path, b->bytes,
                   PruneBackups(dir, keep));
    });
    Schedule();
  });
}

}  // namespace autovibe
