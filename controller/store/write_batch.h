// Groups the controller's writes into few transactions. Work on the owner thread opens the
// batch; it commits `window` later (group commit), so under load one commit covers many
// events and placements, and an idle write waits at most `window`. What may only happen
// after the writes are durable (acknowledging JetStream, sending commands) waits for it.
// Owner-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <vector>

#include "controller/store/store.h"

namespace autovibe {

class WriteBatch {
 public:
  // `on_lost`: a commit failed, so the writes since the last one are gone while the parts
  // that made them still hold them in memory; the controller stops, to start again from
  // what its database holds (null: only logged, for tests).
  WriteBatch(Store& store, boost::asio::io_context& ioc,
             std::chrono::microseconds window = std::chrono::milliseconds(5),
             std::function<void(const Error&)> on_lost = nullptr)
      : store_(store), timer_(ioc), window_(window), on_lost_(std::move(on_lost)) {}

  // Opens a transaction unless one is open, and queues its commit.
  void Open();
  // Runs `fn` after the open transaction commits (at once when none is open).
  void AfterCommit(std::function<void()> fn);
  // Commits now and runs what waited for it. On failure nothing that waited runs (no ack, no
  // answer, no command goes out) and on_lost is told.
  Result<void> Commit();

  uint64_t commits() const { return commits_; }

 private:
  Store& store_;
  boost::asio::steady_timer timer_;
  std::chrono::microseconds window_;
  std::function<void(const Error&)> on_lost_;
  std::vector<std::function<void()>> after_;
  bool commit_queued_ = false;
  uint64_t commits_ = 0;
};

}  // namespace autovibe
