// The one way agents' events enter the controller: it consumes the JetStream stream
// (AV_EVENTS, durable consumer "controller"), refuses what a machine may not say, applies
// each event id once (the store remembers the ids applied, in the same transaction as what
// they changed, for as long as the stream keeps events), and hands each event to the handler
// routed for its kind. An event is acknowledged only once what it changed is durable; one
// whose handler fails is not acknowledged, so it comes again.
//
// The sending machine is the one the subject names (av.evt.<m>); a machine id in the payload
// must agree with it or the event is refused. Refused, acknowledged, counted (Refusals) and
// otherwise ignored: an undecodable event (counted by the bus), one past its size or id limits
// (event_limits.h), and one the sender may not say (SenderRules: a task attempt, lease or
// checkpoint that is not its own).
// Owner-thread only; the stream's callbacks post here.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/bus/bus.h"
#include "common/core/result.h"
#include "controller/agents/sender_rules.h"
#include "controller/model/agent_event.h"
#include "controller/model/refusals.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"

namespace autovibe {
namespace v1 {
class AgentEvent;
}  // namespace v1

struct EventIntakeDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  Store* store = nullptr;
  // Setting up the stream blocks: it runs here and posts its outcome back.
  boost::asio::thread_pool* blocking = nullptr;
  std::string subject_prefix = "av";
  const SenderRules* rules = nullptr;
  Refusals* refusals = nullptr;
};

class EventIntake {
 public:
  // Applies one event (already deduplicated) in the open write batch. An error leaves the
  // event unacknowledged and undoes its writes, so the stream delivers it again and it is
  // applied then; a handler that fails must leave what it keeps in memory as it found it.
  using Handler = std::function<Result<void>(const AgentEvent&)>;

  explicit EventIntake(EventIntakeDeps deps);

  // Events of `kind` go to `handler` (one per kind; events of a kind with none are dropped).
  void Route(AgentEventKind kind, Handler handler);
  // Creates the stream if needed and starts consuming it; idempotent (called at every
  // (re)connection to the bus, and by the tick).
  void Start();
  // No event is handled after this returns.
  void Stop();

  // Handles one delivered message; `ack` acknowledges it (for tests, and the stream).
  void Handle(const BusMessage& m, const std::function<void()>& ack);

  // Forgets (in the open write batch) the ids of events applied longer ago than the stream
  // keeps events, and then some: a copy of one can no longer come. A few thousand at a time;
  // called by the tick.
  void ForgetOldEvents(int64_t now_ms);

 private:
  Result<void> Apply(const std::string& machine_id, const v1::AgentEvent& ev);

  EventIntakeDeps d_;
  const StreamConfig stream_;
  std::array<Handler, 7> handlers_;
  std::unique_ptr<Subscription> sub_;
  bool starting_ = false;
  bool stopped_ = false;
};

}  // namespace autovibe
