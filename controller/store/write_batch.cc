#include "controller/store/write_batch.h"

#include <spdlog/spdlog.h>

namespace autovibe {

void WriteBatch::Open() {
  if (!store_.InTransaction()) {
    if (auto r = store_.Begin(); !r) {
      spdlog::error("controller cannot begin a transaction: {}", r.error().message);
      return;
    }
  }
  if (!commit_queued_) {
    commit_queued_ = true;
    timer_.expires_after(window_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) (void)Commit();
    });
  }
}

void WriteBatch::AfterCommit(std::function<void()> fn) {
  if (!store_.InTransaction()) {
    fn();
    return;
  }
  after_.push_back(std::move(fn));
}

Result<void> WriteBatch::Commit() {
  if (commit_queued_) timer_.cancel();
  commit_queued_ = false;
  if (store_.InTransaction()) {
    if (auto r = store_.Commit(); !r) {
      // The writes are lost; unacknowledged events come again and are applied then.
      spdlog::error("controller commit failed: {}", r.error().message);
      after_.clear();
      if (on_lost_) on_lost_(r.error());
      return r.error();
    }
    ++commits_;
  }
  auto after = std::move(after_);
  after_.clear();
  for (auto& fn : after) fn();
  return {};
}

}  // namespace autovibe
