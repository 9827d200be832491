// A Bus test double for the agent's event outbox: records what reaches "JetStream" and can
// refuse it for a while. It stands in for our own seam (common/bus/bus.h), not for NATS: the
// integration tests run the outbox against a real nats-server.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"

namespace autovibe::testing {

class FakeEventBus final : public Bus {
 public:
  struct Published {
    std::string subject;
    std::string msg_id;
    v1::AgentEvent event;
  };

  // The next `n` stream publishes fail.
  void FailNext(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  // While down, every stream publish fails.
  void SetDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  std::vector<Published> Events() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  int attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  int ensured() const {
    std::lock_guard lock(mu_);
    return ensured_;
  }

  // Bus
  Result<void> Publish(std::string_view, std::string_view) override { return {}; }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string, std::string, size_t,
                                                  Handler) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  Result<std::string> Request(std::string_view, std::string_view, Duration) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  void RequestAsync(std::string_view, std::string_view, Duration, ReplyHandler done) override {
    done(MakeError(ErrorCode::kUnsupported, "not in this fake"));
  }
  Result<void> EnsureStream(const StreamConfig& config) override {
    std::lock_guard lock(mu_);
    ++ensured_;
    stream_subjects_ = config.subjects;
    return {};
  }
  Result<PublishAck> StreamPublish(std::string_view subject, std::string_view data,
                                   std::string_view msg_id, Duration) override {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (down_ || fail_next_ > 0) {
      if (fail_next_ > 0) --fail_next_;
      return MakeError(ErrorCode::kUnavailable, "fake JetStream is down");
    }
    Published p{std::string(subject), std::string(msg_id), {}};
    if (!p.event.ParseFromString(std::string(data))) {
      return MakeError(ErrorCode::kBadRequest, "not an AgentEvent");
    }
    published_.push_back(std::move(p));
    return PublishAck{published_.size(), false};
  }
  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string, std::string, std::string, size_t,
                                                      StreamHandler) override {
    return MakeError(ErrorCode::kUnsupported, "not in this fake");
  }
  bool Connected() const override { return true; }
  BusStats& Stats() override { return stats_; }

  std::vector<std::string> stream_subjects() const {
    std::lock_guard lock(mu_);
    return stream_subjects_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Published> published_;
  std::vector<std::string> stream_subjects_;
  int fail_next_ = 0;
  int attempts_ = 0;
  int ensured_ = 0;
  bool down_ = false;
  BusStats stats_;
};

}  // namespace autovibe::testing
