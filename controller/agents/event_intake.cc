#include "controller/agents/event_intake.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/event.pb.h"
#include "common/bus/subjects.h"
#include "common/core/time.h"
#include "controller/agents/agent_event_codec.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

// Agent events carry log chunks of up to 64 KiB; this leaves room for the envelope.
constexpr size_t kMaxAgentEvent = 1 << 20;

}  // namespace

void EventIntake::Route(AgentEventKind kind, Handler handler) {
  handlers_.at(static_cast<size_t>(kind)) = std::move(handler);
}

void EventIntake::Start() {
  if (sub_ || starting_ || stopped_) return;
  starting_ = true;
  asio::post(*d_.blocking, [this] {
    const Subjects subjects(d_.subject_prefix);
    auto ensured =
        d_.bus->EnsureStream(StreamConfig{std::string(kEventsStream), {subjects.AllEvents()}});
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
  // Only an agent's own subject may speak for its machine.
  if (ev && m.subject != Subjects(d_.subject_prefix).Events(ev->machine_id())) {
    d_.bus->Stats().Reject("agent_event", "subject_mismatch", m.subject, m.data.size());
    ev.reset();
  }
  if (ev && ev->event_id().empty()) {
    d_.bus->Stats().Reject("agent_event", "no_event_id", m.subject, m.data.size());
    ev.reset();
  }
  if (!ev) {
    ack();  // never redeliver what will never be accepted
    return;
  }
  d_.batch->Open();
  if (auto applied = Apply(*ev); !applied) {
    spdlog::error("controller cannot apply event {} from {}: {}", ev->event_id(), m.subject,
                  applied.error().message);
    return;  // not acked: it comes again, and is applied then
  }
  d_.batch->AfterCommit(ack);
}

Result<void> EventIntake::Apply(const v1::AgentEvent& ev) {
  // One event's writes (its id among them) are undone together when applying it fails, so
  // its redelivery is applied then; other work in the batch keeps its writes.
  if (auto r = d_.store->Savepoint("event"); !r) return r;
  auto fresh = d_.store->MarkAgentEventApplied(ev.event_id(), UnixNowNs() / 1'000'000);
  Result<void> applied;
  if (!fresh) {
    applied = fresh.error();
  } else if (*fresh) {
    if (auto event = FromProto(ev)) {
      if (const Handler& h = handlers_.at(static_cast<size_t>(event->kind()))) applied = h(*event);
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

}  // namespace autovibe
