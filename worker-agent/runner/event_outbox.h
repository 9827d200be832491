// The agent's outbox of AgentEvents for the JetStream stream AV_EVENTS.
//
// Events leave in the order they were added, one at a time, each published on
// `<prefix>.evt.<machine_id>` with its event id as the JetStream message id and retried (with
// backoff) until the stream acknowledges it: delivery is at-least-once and in order, and the
// stream's duplicate window turns a retry of an acknowledged-but-unconfirmed event into a no-op.
//
// Memory is bounded by dropping tool output only: when the queued stdout/stderr TaskLog bytes
// would pass `max_log_bytes`, Add() refuses such a TaskLog (the caller counts what it lost).
// Every other event (task started/finished, agent notes, agent started/stopping) is kept.
//
// Thread-safety: every method may be called from any thread. Publishing happens on the outbox's
// own thread, so a slow or absent NATS never blocks the caller.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"
#include "common/core/duration.h"

namespace autovibe {

struct EventOutboxOptions {
  std::string subject_prefix = "av";
  size_t max_log_bytes = 64 << 20;
  Duration publish_timeout = std::chrono::seconds(2);
  Duration min_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(2);
};

class EventOutbox {
 public:
  // `bus` must outlive the outbox.
  EventOutbox(Bus& bus, EventOutboxOptions options);
  // Stops the publishing thread without waiting for the queue to drain (see Flush).
  ~EventOutbox();
  EventOutbox(const EventOutbox&) = delete;
  EventOutbox& operator=(const EventOutbox&) = delete;

  // The machine id stamped on events added from now on (events name their machine, and the
  // subject is the machine's own). Set it once the controller assigned one.
  void SetMachineId(std::string machine_id);

  // Queues an event, filling in an empty event_id, machine_id and at_unix_ns. Returns false
  // when the event was not queued: a stdout/stderr TaskLog over the memory cap, or any event
  // while no machine id is known yet.
  bool Add(v1::AgentEvent event);

  // After a (re)connection: ensure the stream again and retry at once instead of after backoff.
  void Wake();

  // Blocks until every queued event was acknowledged, or `timeout` passed. Returns true when
  // the queue is empty. For shutdown; never call it from a thread that must stay responsive.
  bool Flush(Duration timeout);

  // Events queued or in flight.
  size_t Pending() const;
  // stdout/stderr TaskLog bytes refused because of the cap, since the start.
  uint64_t DroppedLogBytes() const;

 private:
  struct Queued {
    std::string subject;
    std::string msg_id;
    std::string data;
    size_t log_bytes = 0;  // counted against the cap (droppable output only)
  };

  void Loop();
  // Publishes `q` until acknowledged or stopping; returns false when stopping.
  bool PublishOne(const Queued& q);
  // Sleeps for the backoff unless woken or stopping; returns false when stopping.
  bool Backoff(Duration& backoff);

  Bus& bus_;
  const EventOutboxOptions options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Queued> queue_;
  std::string machine_id_;
  size_t log_bytes_ = 0;
  uint64_t dropped_log_bytes_ = 0;
  bool stream_ready_ = false;  // EnsureStream tried since the last (re)connection
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace autovibe
