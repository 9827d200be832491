// A Bus test double for the controller's coordinators (registration, events intake, machine
// commands): it keeps what they publish and answers their requests with a reply the test
// chose. It stands in for our own seam (common/bus/bus.h), not for NATS: integration tests run
// the same parts against a real nats-server. Owner-thread tests only: not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/bus/bus.h"

namespace autovibe::testing {

class RecordingBus final : public Bus {
 public:
  struct Sent {
    std::string subject;
    std::string data;
  };

  // What the bus published (and requested), in order.
  std::vector<Sent> sent;
  // The reply to every request; unset: "no_responders".
  std::function<Result<std::string>(const Sent&)> answer;
  bool connected = true;

  // Those of `sent` whose subject is `subject`.
  std::vector<Sent> To(std::string_view subject) const {
    std::vector<Sent> out;
    for (const auto& s : sent) {
      if (s.subject == subject) out.push_back(s);
    }
    return out;
  }

  // Bus
  Result<void> Publish(std::string_view subject, std::string_view data) override {
    sent.push_back({std::string(subject), std::string(data)});
    return {};
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string, std::string, size_t,
                                                  Handler) override {
    return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
  }
  Result<std::string> Request(std::string_view subject, std::string_view data, Duration) override {
    sent.push_back({std::string(subject), std::string(data)});
    return answer ? answer(sent.back()) : Result<std::string>(NoResponders());
  }
  void RequestAsync(std::string_view subject, std::string_view data, Duration timeout,
                    ReplyHandler done) override {
    done(Request(subject, data, timeout));
  }
  Result<void> EnsureStream(const StreamConfig&) override { return {}; }
  Result<PublishAck> StreamPublish(std::string_view, std::string_view, std::string_view,
                                   Duration) override {
    return MakeError(ErrorCode::kUnsupported, "not in this double");
  }
  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string, std::string, std::string, size_t,
                                                      StreamHandler) override {
    return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
  }
  bool Connected() const override { return connected; }
  BusStats& Stats() override { return stats_; }

 private:
  static Error NoResponders() { return MakeError(ErrorCode::kNoResponders, "nobody answers here"); }

  BusStats stats_;
};

}  // namespace autovibe::testing
