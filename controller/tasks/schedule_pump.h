// Scheduling passes on the owner thread, coalesced: at most one pass is queued at a time, and a
// pass that placed a full step queues the next, so heartbeats, events and API calls run
// between steps. The task book requests one whenever a task or a task slot becomes free.
// Owner-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <functional>

namespace autovibe {

class SchedulePump {
 public:
  // `pass(max)` places up to `max` tasks and returns how many. A null `ioc` never runs a pass
  // on its own (the caller schedules by hand, as unit tests do).
  SchedulePump(boost::asio::io_context* ioc, std::function<size_t(size_t)> pass, size_t step = 256);

  // Queues a pass unless one is queued.
  void Request();
  // No pass runs after this.
  void Stop() { stopped_ = true; }

 private:
  void Pass();

  boost::asio::io_context* ioc_;
  std::function<size_t(size_t)> pass_;
  size_t step_;
  bool queued_ = false;
  bool stopped_ = false;
};

}  // namespace autovibe
