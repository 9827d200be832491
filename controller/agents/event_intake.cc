#include "controller/agents/event_intake.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/event.pb.h"
#include "common/bus/subjects.h"
#include "common/core/time.h"
#include "controller/agents/agent_event_codec.h"
#include "controller/agents/event_limits.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

// Agent events carry log chunks of up to 64 KiB; this leaves room for the envelope.
constexpr size_t kMaxAgentEvent = 1 << 20;
// Applied ids are kept this much longer than the stream keeps events (clocks drift, an agent
// may resend what the stream acknowledged just before it crashed), and forgotten this many at
// a time, so one tick never holds the owner thread long.
constexpr auto kForgetMargin = std::chrono::hours(24);
constexpr size_t kForgetAtOnce = 5000;

// What the envelope says of the sender: it must be the machine of the subject.
std::optional<Refusal> CheckSender(const std::string& machine, const BusMessage& m,
                                   const v1::AgentEvent& ev) {
  if (machine.empty()) return Refusal{"bad_subject", "subject " + m.subject + " names no machine"};
  if (!ev.machine_id().empty() && ev.machine_id() != machine) {
    return Refusal{"subject_mismatch",
                   "it names machine " + ev.machine_id().substr(0, kMaxEventIdBytes)};
  }
  return CheckEventLimits(ev, m.data.size());
}

}  // namespace

EventIntake::EventIntake(EventIntakeDeps deps)
    : d_(std::move(deps)),
      stream_{std::string(kEventsStream), {Subjects(d_.subject_prefix).AllEvents()}} {}

void EventIntake::Route(AgentEventKind kind, Handler handler) {
  handlers_.at(static_cast<size_t>(kind)) = std::move(handler);
}

void EventIntake::Start() {
  if (sub_ || starting_ || stopped_) return;
  starting_ = true;
  asio::post(*d_.blocking, [this] {
    const Subjects subjects(d_.subject_prefix);
    auto ensured = d_.bus->EnsureStream(stream_);
    Result<std::unique_ptr<Subscription>> sub = ensured.error();
    if (ensured) {
      sub = d_.bus->ConsumeStream(
          std::string(kEventsStream), std::string(kEventsConsumer), subjects.AllEvents(),
          kMaxAgentEvent, [this](BusMessage m, std::function<void()> ack) {
            asio::post(*d_.ioc, [this, m = std::move(m), ack = std::move(ack)] { Handle(m, ack); });
          });
    }
    asio::post(*d_.ioc, [this, sub = std::move(sub)]() mutable {
      starting_ = false;
      if (!sub) {
        // Tried again at the next (re)connection and by the tick.
        spdlog::error("controller cannot consume agent events: {}", sub.error().message);
        return;
      }
      if (stopped_) return;
      sub_ = std::move(*sub);
      spdlog::info("controller consuming agent events stream={}", kEventsStream);
    });
  });
}

void EventIntake::Stop() {
  stopped_ = true;
  sub_.reset();
}

void EventIntake::Handle(const BusMessage& m, const std::function<void()>& ack) {
  if (stopped_) return;
  auto ev = DecodeOrReject<v1::AgentEvent>(*d_.bus, m, "agent_event");
  if (!ev) {
    ack();  // never redeliver what will never be accepted
    return;
  }
  // NATS permissions let a machine publish only on its own subjects: the subject, never the
  // payload, says who sends.
  const std::string machine = Subjects(d_.subject_prefix).MachineIn("evt", m.subject);
  if (auto refused = CheckSender(machine, m, *ev)) {
    d_.refusals->Count(EventKindName(*ev), machine.empty() ? m.subject : machine, *refused);
    ack();
    return;
  }
  d_.batch->Open();
  if (auto applied = Apply(machine, *ev); !applied) {
    spdlog::error("controller cannot apply event {} from {}: {}", ev->event_id(), m.subject,
                  applied.error().message);
    return;  // not acked: it comes again, and is applied then
  }
  d_.batch->AfterCommit(ack);
}

Result<void> EventIntake::Apply(const std::string& machine_id, const v1::AgentEvent& ev) {
  // One event's writes (its id among them) are undone together when applying it fails, so
  // its redelivery is applied then; other work in the batch keeps its writes.
  if (auto r = d_.store->Savepoint("event"); !r) return r;
  auto fresh = d_.store->MarkAgentEventApplied(ev.event_id(), UnixNowNs() / 1'000'000);
  Result<void> applied;
  if (!fresh) {
    applied = fresh.error();
  } else if (*fresh) {
    // Refused after its id is recorded: a redelivery is neither applied nor counted again.
    if (auto event = FromProto(ev)) {
      event->machine_id = machine_id;
      if (auto refused = d_.rules->Check(machine_id, *event)) {
        d_.refusals->Count(EventKindName(ev), machine_id, *refused);
      } else if (const Handler& h = handlers_.at(static_cast<size_t>(event->kind()))) {
        applied = h(*event);
      }
    }
  }
  if (!applied) {
    if (auto r = d_.store->RollbackTo("event"); !r) {
      spdlog::error("controller cannot undo event {}: {}", ev.event_id(), r.error().message);
    }
  }
  if (auto r = d_.store->Release("event"); !r) {
    spdlog::error("controller cannot release event {}: {}", ev.event_id(), r.error().message);
  }
  return applied;
}

void EventIntake::ForgetOldEvents(int64_t now_ms) {
  const int64_t keep_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              stream_.max_age + stream_.duplicate_window + kForgetMargin)
                              .count();
  d_.batch->Open();
  auto forgot = d_.store->ForgetAgentEventsBefore(now_ms - keep_ms, kForgetAtOnce);
  if (!forgot) {
    spdlog::error("controller cannot forget old event ids: {}", forgot.error().message);
  } else if (*forgot > 0) {
    spdlog::debug("controller forgot {} applied event ids", *forgot);
  }
}

}  // namespace autovibe
