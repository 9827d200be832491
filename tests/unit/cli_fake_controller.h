// A stand-in for the controller's HTTP API in CLI unit tests: canned answers by request, and
// scripted event streams for follows. Runs `autovibe <args...>` against it.
#pragma once

#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/client.h"
#include "cli/task_follow.h"

namespace autovibe::cli::testing {

// 2026-11-22T01:39:42.123Z
inline constexpr int64_t kNowMs = 1795311582123;

inline HttpReply JsonReply(int status, std::string body) {
  return HttpReply{status, "application/json", std::move(body)};
}

inline HttpReply ApiError(int status, const std::string& code, const std::string& message) {
  return JsonReply(status, R"({"error":{"code":")" + code + R"(","message":")" + message + "\"}}");
}

class FakeController {
 public:
  // One follow connection: these events, then the connection ends with `end`.
  struct Stream {
    std::vector<SseEvent> events;
    Result<SseReply> end = SseReply{200, "text/event-stream", ""};
  };

  // Answers "METHOD /path?query" with `reply`; anything else gets a 404.
  void On(const std::string& request, HttpReply reply) { replies_[request] = std::move(reply); }
  // Queues a connection for the next follow; with none left, a follow gets a 404.
  void AddStream(Stream stream) { streams_.push_back(std::move(stream)); }
  // Runs before each event is delivered (to move a fake clock, say).
  std::function<void()> before_event = [] {};

  // Every request, follows included, as "METHOD /path?query".
  const std::vector<std::string>& requests() const { return requests_; }
  // The bodies of the requests, in the same order.
  const std::vector<std::string>& bodies() const { return bodies_; }
  // How long the CLI would have waited for each answer.
  const std::vector<std::chrono::milliseconds>& timeouts() const { return timeouts_; }

  Client MakeClient() {
    return Client(
        Endpoint{"http://ctl:8080", "tok"},
        [this](const HttpCall& call) -> Result<HttpReply> { return Answer(call); },
        [this](const HttpCall& call, const SseHandler& on_event) -> Result<SseReply> {
          return Serve(call, on_event);
        });
  }

 private:
  std::string Record(const HttpCall& call) {
    std::string request =
        call.method + " " + call.url.substr(std::string("http://ctl:8080").size());
    requests_.push_back(request);
    bodies_.push_back(call.body);
    timeouts_.push_back(call.timeout);
    return request;
  }

  Result<HttpReply> Answer(const HttpCall& call) {
    auto it = replies_.find(Record(call));
    if (it == replies_.end()) return ApiError(404, "not_found", "no such thing");
    return it->second;
  }

  Result<SseReply> Serve(const HttpCall& call, const SseHandler& on_event) {
    Record(call);
    if (streams_.empty()) {
      const HttpReply gone = ApiError(404, "not_found", "no more streams");
      return SseReply{gone.status, gone.content_type, gone.body};
    }
    Stream stream = std::move(streams_.front());
    streams_.pop_front();
    for (const SseEvent& e : stream.events) {
      before_event();
      if (!on_event(e)) return SseReply{200, "text/event-stream", ""};
    }
    return stream.end;
  }

  std::map<std::string, HttpReply> replies_;
  std::deque<Stream> streams_;
  std::vector<std::string> requests_;
  std::vector<std::string> bodies_;
  std::vector<std::chrono::milliseconds> timeouts_;
};

// A terminal with a clock that moves only when told to (or when the follower sleeps).
struct FakeTerminal {
  std::ostringstream err;
  int64_t now_ms = 0;
  std::vector<std::chrono::milliseconds> sleeps;

  Terminal Make(bool is_tty, size_t width = 80) {
    Terminal t;
    t.err = &err;
    t.is_tty = is_tty;
    t.width = width;
    t.now_ms = [this] { return now_ms; };
    t.sleep = [this](std::chrono::milliseconds d) {
      sleeps.push_back(d);
      now_ms += d.count();
    };
    return t;
  }
};

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Parses and runs `autovibe <args...>` against `controller`. A usage error ends at parsing,
// with its exit code and message.
inline Outcome RunCli(FakeController& controller, std::vector<std::string> args) {
  Outcome o;
  Invocation inv;
  auto app = BuildApp(inv);
  std::ostringstream out, err;
  if (auto code = ParseCommandLine(*app, std::move(args), out, err)) {
    o.exit_code = *code;
  } else {
    Client client = controller.MakeClient();
    o.exit_code = RunCommand(inv, client, kNowMs, out, err);
  }
  o.out = out.str();
  o.err = err.str();
  return o;
}

// An SSE event as the controller sends it.
inline SseEvent Event(std::string name, std::string data) {
  return SseEvent{std::move(name), std::move(data), ""};
}

}  // namespace autovibe::cli::testing
