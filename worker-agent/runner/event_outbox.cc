#include "worker-agent/runner/event_outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>

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

}  // namespace

EventOutbox::EventOutbox(Bus& bus, EventOutboxOptions options)
    : bus_(bus), options_(std::move(options)), thread_([this] { Loop(); }) {}

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

bool EventOutbox::Add(v1::AgentEvent event) {
  std::string machine_id;
  {
    std::lock_guard lock(mu_);
    machine_id = machine_id_;
  }
  if (event.machine_id().empty()) event.set_machine_id(machine_id);
  if (event.machine_id().empty()) {
    spdlog::warn("agent event dropped: no machine id yet");
    return false;
  }
  if (event.event_id().empty()) event.set_event_id(NewId("e"));
  if (event.at_unix_ns() == 0) event.set_at_unix_ns(UnixNowNs());
  Queued q{Subjects(options_.subject_prefix).Events(event.machine_id()), event.event_id(),
           event.SerializeAsString(), DroppableBytes(event)};
  {
    std::lock_guard lock(mu_);
    if (q.log_bytes > 0 && log_bytes_ + q.log_bytes > options_.max_log_bytes) {
      dropped_log_bytes_ += event.task_log().data().size();
      return false;
    }
    log_bytes_ += q.log_bytes;
    queue_.push_back(std::move(q));
  }
  changed_.notify_all();
  return true;
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
    queue_.pop_front();
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
