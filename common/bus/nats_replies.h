// Requests that do not block: one wildcard inbox subscription per connection receives every
// reply, a table matches replies to callers, and one thread ends requests whose deadline
// passed. Used by NatsBus::RequestAsync; NATS-specific, so private to common/bus.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

class NatsReplies {
 public:
  using Callback = std::function<void(Result<std::string>)>;

  // Subscribes to a fresh inbox on `nc`, which must outlive this object.
  // `inbox_prefix` replaces "_INBOX" when not empty (BusOptions::inbox_prefix).
  static Result<std::unique_ptr<NatsReplies>> Start(natsConnection* nc,
                                                    const std::string& inbox_prefix);
  // Pending callbacks are dropped, never called, once this returns.
  ~NatsReplies();

  // Publishes `data` to `subject` with a reply address; `done` runs once, on a bus thread,
  // with the reply or an error ("timeout", "no_responders", "unavailable"). When the publish
  // itself fails, `done` runs before Send returns.
  void Send(std::string_view subject, std::string_view data, Duration timeout, Callback done);

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Callback done;
    std::multimap<Clock::time_point, uint64_t>::iterator deadline;
  };
  // Shared with NATS.c's delivery thread; deleted by the subscription's on-complete callback
  // (after the last delivery), like SubState in nats_bus.cc.
  struct Table {
    std::mutex mu;
    std::condition_variable wake;
    bool active = true;
    uint64_t next = 1;
    std::unordered_map<uint64_t, Pending> pending;
    std::multimap<Clock::time_point, uint64_t> deadlines;
    // Removes and returns the callback of request `id`, if still pending. Caller holds mu.
    Callback Take(uint64_t id);
  };

  NatsReplies(natsConnection* nc, natsSubscription* sub, Table* table, std::string prefix);
  static void OnReply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static void OnComplete(void* closure);
  void ExpireLoop();

  natsConnection* nc_;
  natsSubscription* sub_;
  Table* table_;
  std::string prefix_;  // "<inbox>." ; a request's reply subject is prefix_ + id
  bool stop_ = false;   // guarded by table_->mu
  std::thread expirer_;
};

}  // namespace autovibe
