// The agent's outbox of AgentEvents for the JetStream stream AV_EVENTS.
//
// Events leave in the order they were added, one at a time, each published on
// `<prefix>.evt.<machine_id>` with its event id as the JetStream message id and retried (with
// backoff) until the stream acknowledges it: delivery is at-least-once and in order, and the
// stream's duplicate window turns a retry of an acknowledged-but-unconfirmed event into a no-op.
//
// Durable (Open): every event is appended to a log in the agent's data dir (outbox_log.h) before
// Add() returns, and dropped from it once the stream acknowledged it; what a previous run left
// there is sent first after a restart, with the same event ids, so the controller applies each
// once. A fallback (AddFallback) is written down the same way: an event to send in place of the
// one of the same id, should the agent die before adding that. The meter writes each call's
// reservation so, as the estimated record that charges it in full.
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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "worker-agent/runner/outbox_log.h"

namespace autovibe {

struct EventOutboxOptions {
  std::string subject_prefix = "av";
  size_t max_log_bytes = 64 << 20;
  Duration publish_timeout = std::chrono::seconds(2);
  Duration min_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(2);
  // Where Open() keeps the events (a directory, 0700, of 0600 files).
  std::string dir;
};

// What the outbox holds and has done since the agent started (for the agent's /metrics).
struct OutboxStats {
  size_t pending = 0;              // events queued or in flight
  uint64_t published = 0;          // acknowledged by the stream
  uint64_t publish_failures = 0;   // tries the stream did not acknowledge (each retried)
  uint64_t dropped_log_bytes = 0;  // tool output refused over the cap
};

class EventOutbox {
 public:
  // A memory-only outbox: a crash loses what it holds. `bus` must outlive the outbox.
  EventOutbox(Bus& bus, EventOutboxOptions options);
  // A durable outbox in `options.dir`. What a previous run left there is queued first: its
  // events not acknowledged, then, as events, its fallbacks whose event never came. Errors:
  // kIo (the directory or a segment cannot be read or written).
  static Result<std::unique_ptr<EventOutbox>> Open(Bus& bus, EventOutboxOptions options);
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
  // As Add, but the publishing thread is not woken: call Kick() soon. For the meter, whose
  // records come in bursts (waking that thread on every one would slow the calls).
  bool AddQuietly(v1::AgentEvent event);
  void Kick();
  // Writes down `event` (ids filled in as Add does) to be sent only if the agent dies before an
  // event with its id is added. Does nothing on a memory-only outbox. False as Add.
  bool AddFallback(v1::AgentEvent event);

  // After a (re)connection: ensure the stream again and retry at once instead of after backoff.
  void Wake();

  // Blocks until every queued event was acknowledged, or `timeout` passed. Returns true when
  // the queue is empty. For shutdown; never call it from a thread that must stay responsive.
  bool Flush(Duration timeout);

  // Events queued or in flight.
  size_t Pending() const;
  // stdout/stderr TaskLog bytes refused because of the cap, since the start.
  uint64_t DroppedLogBytes() const;
  OutboxStats Stats() const;
  // What Open() found: events left by the previous run, and how many of them are fallbacks.
  size_t RecoveredEvents() const { return recovered_events_; }
  size_t RecoveredFallbacks() const { return recovered_fallbacks_; }
  // The log under a durable outbox (tests); null for a memory-only one.
  OutboxLog* LogForTest() { return log_.get(); }

 private:
  struct Queued {
    std::string subject;
    std::string msg_id;
    std::string data;
    size_t log_bytes = 0;               // counted against the cap (droppable output only)
    std::optional<OutboxLog::Ref> ref;  // where it is in the log, if it is
  };

  EventOutbox(Bus& bus, EventOutboxOptions options, std::unique_ptr<OutboxLog> log);
  // Fills in the ids; empty when no machine id is known yet.
  std::optional<Queued> Prepare(v1::AgentEvent& event);
  bool Enqueue(v1::AgentEvent event, bool wake);
  // Queues what the log's previous segments held (before the thread starts).
  Result<void> Recover(const OutboxLog::Recovered& found);
  // Appends to the log (mu_ held); nullopt when there is none or the write failed.
  std::optional<OutboxLog::Ref> Write(OutboxEntryKind kind, const std::string& data, bool live);
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
  uint64_t published_ = 0;
  uint64_t publish_failures_ = 0;
  bool stream_ready_ = false;  // EnsureStream tried since the last (re)connection
  bool woken_ = false;
  bool stopping_ = false;
  std::unique_ptr<OutboxLog> log_;                             // null: memory only
  std::unordered_map<std::string, OutboxLog::Ref> fallbacks_;  // by event id
  bool write_failed_ = false;                                  // said once per outage
  int acks_unmarked_ = 0;  // acknowledged since the log was last told
  size_t recovered_events_ = 0;
  size_t recovered_fallbacks_ = 0;
  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace autovibe
