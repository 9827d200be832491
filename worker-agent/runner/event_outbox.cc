#include "worker-agent/runner/event_outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "common/core/time.h"

namespace autovibe {
namespace {

// Tool output is what may be dropped under memory pressure; everything else is state the
// controller needs (a lost TaskFinished would leave a task running forever).
size_t DroppableBytes(const v1::AgentEvent& e) {
  if (e.kind_case() != v1::AgentEvent::kTaskLog) return 0;
  const auto stream = e.task_log().stream();
  if (stream != v1::LOG_STREAM_STDOUT && stream != v1::LOG_STREAM_STDERR) return 0;
  return e.task_log().data().size();
}

// Acknowledged events between two marks of the log (and whenever the queue empties).
constexpr int kAckMarkEvery = 32;

}  // namespace

EventOutbox::EventOutbox(Bus& bus, EventOutboxOptions options)
    : EventOutbox(bus, std::move(options), nullptr) {}

EventOutbox::EventOutbox(Bus& bus, EventOutboxOptions options, std::unique_ptr<OutboxLog> log)
    : bus_(bus), options_(std::move(options)), log_(std::move(log)), thread_([this] { Loop(); }) {}

Result<std::unique_ptr<EventOutbox>> EventOutbox::Open(Bus& bus, EventOutboxOptions options) {
  OutboxLog::Recovered found;
  auto log = OutboxLog::Open(OutboxLogOptions{.dir = options.dir}, found);
  if (!log) return log.error();
  std::unique_ptr<EventOutbox> outbox(new EventOutbox(bus, std::move(options), std::move(*log)));
  if (auto r = outbox->Recover(found); !r) return r.error();
  return outbox;
}

EventOutbox::~EventOutbox() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void EventOutbox::SetMachineId(std::string machine_id) {
  std::lock_guard lock(mu_);
  machine_id_ = std::move(machine_id);
}

std::optional<EventOutbox::Queued> EventOutbox::Prepare(v1::AgentEvent& event) {
  if (event.machine_id().empty()) {
    std::lock_guard lock(mu_);
    event.set_machine_id(machine_id_);
  }
  if (event.machine_id().empty()) {
    spdlog::warn("agent event dropped: no machine id yet");
    return std::nullopt;
  }
  if (event.event_id().empty()) event.set_event_id(NewId("e"));
  if (event.at_unix_ns() == 0) event.set_at_unix_ns(UnixNowNs());
  return Queued{Subjects(options_.subject_prefix).Events(event.machine_id()), event.event_id(),
                event.SerializeAsString(), DroppableBytes(event)};
}

std::optional<OutboxLog::Ref> EventOutbox::Write(OutboxEntryKind kind, const std::string& data,
                                                 bool live) {
  if (!log_) return std::nullopt;
  auto ref = log_->Append(kind, data, live);
  if (!ref) {
    // Still sent while the agent lives; only a crash would lose it now.
    if (!write_failed_)
      spdlog::error("agent outbox cannot write down events: {}", ref.error().message);
    write_failed_ = true;
    return std::nullopt;
  }
  write_failed_ = false;
  return *ref;
}

bool EventOutbox::Add(v1::AgentEvent event) { return Enqueue(std::move(event), true); }

bool EventOutbox::AddQuietly(v1::AgentEvent event) { return Enqueue(std::move(event), false); }

void EventOutbox::Kick() { changed_.notify_all(); }

bool EventOutbox::Enqueue(v1::AgentEvent event, bool wake) {
  auto q = Prepare(event);
  if (!q) return false;
  {
    std::lock_guard lock(mu_);
    if (q->log_bytes > 0 && log_bytes_ + q->log_bytes > options_.max_log_bytes) {
      dropped_log_bytes_ += event.task_log().data().size();
      return false;
    }
    log_bytes_ += q->log_bytes;
    // Written down in the order it is queued (the log is read back in that order), and only
    // then the fallback it replaces is let go.
    q->ref = Write(OutboxEntryKind::kEvent, q->data, true);
    if (auto f = fallbacks_.find(q->msg_id); f != fallbacks_.end()) {
      log_->Release(f->second);
      fallbacks_.erase(f);
    }
    queue_.push_back(std::move(*q));
  }
  if (wake) changed_.notify_all();
  return true;
}

bool EventOutbox::AddFallback(v1::AgentEvent event) {
  auto q = Prepare(event);
  if (!q) return false;
  std::lock_guard lock(mu_);
  if (auto ref = Write(OutboxEntryKind::kFallback, q->data, true)) fallbacks_[q->msg_id] = *ref;
  return true;
}

Result<void> EventOutbox::Recover(const OutboxLog::Recovered& found) {
  struct Pending {
    std::string id;
    const std::string* data;
    v1::AgentEvent event;
  };
  std::deque<Pending> pending;
  std::unordered_set<std::string> seen;     // event ids queued or acknowledged
  std::unordered_set<std::string> unacked;  // of those, still in `pending`
  std::vector<Pending> fallbacks;           // in the order written
  std::unordered_set<std::string> settled;  // fallbacks whose event came
  size_t undecodable = 0;
  for (const auto& e : found.entries) {
    if (e.kind == OutboxEntryKind::kAcked) {
      // Events are acknowledged in the order they were queued.
      if (!unacked.contains(e.payload)) continue;
      while (!pending.empty()) {
        std::string id = std::move(pending.front().id);
        pending.pop_front();
        unacked.erase(id);
        if (id == e.payload) break;
      }
      continue;
    }
    v1::AgentEvent ev;
    if (!ev.ParseFromString(e.payload) || ev.event_id().empty() || ev.machine_id().empty()) {
      ++undecodable;
      continue;
    }
    const std::string id = ev.event_id();
    if (e.kind == OutboxEntryKind::kFallback) {
      if (!seen.contains(id)) fallbacks.push_back(Pending{id, &e.payload, std::move(ev)});
      continue;
    }
    settled.insert(id);
    if (!seen.insert(id).second) continue;  // written twice (a crash while recovering)
    unacked.insert(id);
    pending.push_back(Pending{id, &e.payload, std::move(ev)});
  }
  for (auto& f : fallbacks) {
    if (settled.contains(f.id) || !seen.insert(f.id).second) continue;
    ++recovered_fallbacks_;
    pending.push_back(std::move(f));
  }
  if (undecodable > 0) spdlog::warn("agent outbox: {} undecodable entries left out", undecodable);
  {
    std::lock_guard lock(mu_);
    for (Pending& p : pending) {
      Queued q{Subjects(options_.subject_prefix).Events(p.event.machine_id()), p.id, *p.data,
               DroppableBytes(p.event)};
      q.ref = Write(OutboxEntryKind::kEvent, q.data, true);
      if (!q.ref) return MakeError(ErrorCode::kIo, "cannot write down the outbox's events again");
      log_bytes_ += q.log_bytes;
      queue_.push_back(std::move(q));
    }
    recovered_events_ = pending.size();
  }
  if (auto r = log_->DropRecovered(); !r) return r;
  if (!pending.empty()) {
    spdlog::info(
        "agent outbox: {} events left by the previous run go out first ({} of them "
        "estimated records of calls it did not settle)",
        pending.size(), recovered_fallbacks_);
  }
  changed_.notify_all();
  return {};
}

void EventOutbox::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
    stream_ready_ = false;
  }
  changed_.notify_all();
}

bool EventOutbox::Flush(Duration timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [this] { return queue_.empty(); });
}

size_t EventOutbox::Pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

uint64_t EventOutbox::DroppedLogBytes() const {
  std::lock_guard lock(mu_);
  return dropped_log_bytes_;
}

OutboxStats EventOutbox::Stats() const {
  std::lock_guard lock(mu_);
  return {.pending = queue_.size(),
          .published = published_,
          .publish_failures = publish_failures_,
          .dropped_log_bytes = dropped_log_bytes_};
}

void EventOutbox::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    // Only this thread pops, and a deque keeps references valid across push_back.
    const Queued& head = queue_.front();
    lock.unlock();
    const bool published = PublishOne(head);
    lock.lock();
    if (!published) return;
    log_bytes_ -= head.log_bytes;
    if (head.ref) {
      // After a restart, what this acknowledged (and all before it) is not sent again. Marked
      // every few events only: a mark lost or not written means a few events sent twice, which
      // the stream and the controller take once.
      if (queue_.size() == 1 || ++acks_unmarked_ >= kAckMarkEvery) {
        Write(OutboxEntryKind::kAcked, head.msg_id, false);
        acks_unmarked_ = 0;
      }
      log_->Release(*head.ref);
    }
    queue_.pop_front();
    ++published_;
    changed_.notify_all();  // Flush() waits for an empty queue
  }
}

bool EventOutbox::PublishOne(const Queued& q) {
  Duration backoff = options_.min_backoff;
  int failures = 0;
  while (true) {
    bool ensure = false;
    {
      std::lock_guard lock(mu_);
      ensure = !stream_ready_;
      stream_ready_ = true;
    }
    // The controller creates the stream too; an agent without the rights to create it (NATS
    // permissions) still publishes into the controller's.
    if (ensure) {
      if (auto r = bus_.EnsureStream(
              {std::string(kEventsStream), {Subjects(options_.subject_prefix).AllEvents()}});
          !r) {
        spdlog::debug("agent cannot ensure stream {}: {}", kEventsStream, r.error().message);
        std::lock_guard lock(mu_);
        stream_ready_ = false;
      }
    }
    auto r = bus_.StreamPublish(q.subject, q.data, q.msg_id, options_.publish_timeout);
    if (r) {
      if (failures > 0) spdlog::info("agent events flowing again after {} failures", failures);
      std::lock_guard lock(mu_);
      stream_ready_ = true;
      return true;
    }
    {
      std::lock_guard lock(mu_);
      ++publish_failures_;
    }
    // One line per outage, not one per retry.
    if (failures++ == 0) {
      spdlog::warn("agent cannot publish events, retrying: {}", r.error().message);
    }
    if (!Backoff(backoff)) return false;
  }
}

bool EventOutbox::Backoff(Duration& backoff) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, backoff, [this] { return stopping_ || woken_; });
  if (stopping_) return false;
  if (woken_) {
    woken_ = false;
    backoff = options_.min_backoff;
  } else {
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return true;
}

}  // namespace autovibe
