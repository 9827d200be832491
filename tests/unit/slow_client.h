// A response body stream whose client reads only when told to: for tests of what a server
// writes to a slow reader.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "common/http/http.h"

namespace autovibe::testing {

// A client that reads only when told to.
class SlowClient final : public HttpBodyStream {
 public:
  std::string received;  // sent to the client
  std::string queued;    // written, not yet sent
  bool closed = false;
  bool aborted = false;
  std::function<void()> when_sent;

  bool Write(std::string data) override {
    queued += data;
    return true;
  }
  void Close() override { closed = true; }
  void Abort() override {
    aborted = true;
    closed = true;
  }
  bool open() const override { return !closed; }
  size_t queued_bytes() const override { return queued.size(); }
  void WhenSent(std::function<void()> sent) override { when_sent = std::move(sent); }

  // The client reads everything queued.
  void Read() {
    received += queued;
    queued.clear();
    if (when_sent) std::exchange(when_sent, nullptr)();
  }
};

}  // namespace autovibe::testing
