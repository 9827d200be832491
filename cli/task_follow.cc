#include "cli/task_follow.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/client.h"
#include "cli/json_output.h"
#include "common/core/duration.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{5'000};

// One follow of a task, over as many connections as it takes.
class Follower {
 public:
  Follower(const Client& client, std::string id, TaskObserver& observer)
      : client_(client), id_(std::move(id)), observer_(observer) {}

  CliResult<json::object> Run(const Sleeper& sleep) {
    std::chrono::milliseconds delay{0};
    for (;;) {
      heard_ = false;
      CliStatus status =
          client_.Follow(FollowPath(id_, after_), [this](const SseEvent& e) { return OnEvent(e); });
      if (failure_) return *failure_;
      if (end_) return *end_;
      if (!status && status.error().exit_code != kExitUnreachable) return status.error();
      // A connection that carried events was a good one: start the backoff over.
      delay = heard_ ? kFirstBackoff : NextBackoff(delay);
      observer_.OnReconnect(
          status ? CliError{kExitUnreachable, "the controller ended the stream early"}
                 : status.error(),
          delay);
      sleep(delay);
    }
  }

 private:
  // Returns whether to keep reading the stream.
  bool OnEvent(const SseEvent& e) {
    heard_ = true;
    if (e.event != "log" && e.event != "state" && e.event != "end") return true;
    auto data = ParseData(e);
    if (!data) {
      failure_ = data.error();
      return false;
    }
    if (e.event == "end") {
      end_ = std::move(*data);
      return false;
    }
    if (e.event == "state") {
      observer_.OnState(*data);
      if (!observer_.Done()) return true;
      end_ = std::move(*data);
      return false;
    }
    const auto seq = IntField(*data, "seq");
    // A chunk seen before a reconnection may come again; show it once.
    if (seq && *seq <= after_) return true;
    if (seq) after_ = *seq;
    observer_.OnLog(*data);
    return true;
  }

  static CliResult<json::object> ParseData(const SseEvent& e) {
    boost::system::error_code ec;
    json::value v = json::parse(e.data, ec);
    if (ec || !v.is_object()) {
      return CliError{kExitFailure, "the controller sent a malformed \"" + e.event +
                                        "\" event: " + Truncate(e.data, 120)};
    }
    return std::move(v.get_object());
  }

  const Client& client_;
  std::string id_;
  TaskObserver& observer_;
  int64_t after_ = 0;
  bool heard_ = false;
  std::optional<json::object> end_;
  std::optional<CliError> failure_;
};

}  // namespace

void SleepFor(std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); }

Terminal ProcessTerminal() {
  Terminal t;
  t.err = &std::cerr;
  t.is_tty = isatty(STDERR_FILENO) == 1;
  winsize size{};
  if (t.is_tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    t.width = size.ws_col;
  }
  t.now_ms = [] {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  };
  t.sleep = SleepFor;
  return t;
}

std::string ReconnectNote(const CliError& why, std::chrono::milliseconds delay) {
  return "lost the controller (" + why.message + "); reconnecting in " + FormatDuration(delay);
}

CliResult<json::object> FollowTask(const Client& client, const std::string& id,
                                   TaskObserver& observer, const Sleeper& sleep) {
  return Follower(client, id, observer).Run(sleep);
}

std::chrono::milliseconds NextBackoff(std::chrono::milliseconds previous) {
  if (previous < kFirstBackoff) return kFirstBackoff;
  return std::min(previous * 2, kMaxBackoff);
}

std::string FollowPath(const std::string& id, int64_t after_seq) {
  return "/v1/tasks/" + PathSegment(id) + "/logs?follow=1&after=" + std::to_string(after_seq);
}

}  // namespace autovibe::cli
