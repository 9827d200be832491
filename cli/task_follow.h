// Following a task's log stream (SSE) until it ends, across controller restarts.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "cli/command.h"
#include "common/http/sse_client.h"

namespace autovibe::cli {

// What a follower hears while a task runs. Called on the following thread.
class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  // A chunk of output: {"seq","attempt","stream","data"}; each seq is delivered once, in order.
  virtual void OnLog(const boost::json::object& chunk) {}
  // The task's state, on every change and once after each (re)connection:
  // {"state","machine_id","machine_name","attempts"}.
  virtual void OnState(const boost::json::object& state) {}
  // The stream broke before the task ended (`why`); the follower tries again after `delay`.
  virtual void OnReconnect(const CliError& why, std::chrono::milliseconds delay) {}
  // Asked after each state: true ends the follow there, and the follow returns that state.
  virtual bool Done() const { return false; }
};

// Waits `delay`; std::this_thread::sleep_for in production.
using Sleeper = std::function<void(std::chrono::milliseconds delay)>;
void SleepFor(std::chrono::milliseconds delay);

// Where a following command reports how it goes, and its clock: the process's stderr, steady
// clock and sleep in production (ProcessTerminal), fakes in tests.
struct Terminal {
  std::ostream* err = nullptr;
  bool is_tty = false;              // `err` is a terminal: progress may be redrawn in place
  size_t width = 80;                // its width in columns
  std::function<int64_t()> now_ms;  // a monotonic clock in milliseconds
  Sleeper sleep;
};
Terminal ProcessTerminal();

// "lost the controller (<why>); reconnecting in 250ms", for an observer to show.
std::string ReconnectNote(const CliError& why, std::chrono::milliseconds delay);

// Follows the logs of task `id` until the controller sends its `end` event, and returns the
// final task (or, when the observer is Done after a state, that state). When the stream breaks (the
// controller restarts, the connection drops), it reconnects after a backoff, asking only for chunks
// after the last one seen, for as long as it takes. Errors the controller answers with (401, 404,
// ...) and malformed events end it.
CliResult<boost::json::object> FollowTask(const Client& client, const std::string& id,
                                          TaskObserver& observer, const Sleeper& sleep = SleepFor);

// The wait before the next reconnection: 250ms, doubling up to 5s.
std::chrono::milliseconds NextBackoff(std::chrono::milliseconds previous);

// The path of a task's log stream with chunks after `after_seq`.
std::string FollowPath(const std::string& id, int64_t after_seq);

}  // namespace autovibe::cli
