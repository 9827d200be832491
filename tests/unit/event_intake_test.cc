// The events intake (controller/agents/event_intake): every agent event enters here, is
// checked, applied once per event id (the ids live in a real SQLite store) and routed to the
// handler of its kind; it is acknowledged only once what it changed is durable. The bus is a
// recording double of our own seam; tests/integration runs the stream over a real nats-server.
#include "controller/agents/event_intake.h"

#include <catch2/catch.hpp>

#include "autovibe/v1/event.pb.h"
#include "tests/support/process.h"
#include "tests/unit/recording_bus.h"

using namespace autovibe;
using autovibe::testing::RecordingBus;
using autovibe::testing::TempDir;

namespace {

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  boost::asio::io_context ioc;
  boost::asio::thread_pool blocking{1};
  RecordingBus bus;
  WriteBatch batch{*store, ioc, std::chrono::microseconds(0)};
  EventIntake intake{{&ioc, &bus, &batch, store.get(), &blocking, "av"}};
  std::vector<std::string> applied;  // "kind machine event-id"
  int acks = 0;

  Fixture() {
    intake.Route(AgentEventKind::kTaskFinished, [this](const AgentEvent& e) -> Result<void> {
      const auto& f = std::get<TaskFinishedEvent>(e.what);
      applied.push_back("finished " + e.machine_id + " " + e.event_id + " " + f.task_id);
      return {};
    });
    intake.Route(AgentEventKind::kUsage, [this](const AgentEvent& e) -> Result<void> {
      const auto& u = std::get<UsageReport>(e.what);
      applied.push_back("usage " + e.machine_id + " " + e.event_id + " " +
                        std::to_string(u.cost_micros));
      return {};
    });
  }

  // Delivers one message as the stream would, then commits what waits for the commit.
  void Deliver(const std::string& subject, const std::string& data) {
    intake.Handle({subject, "", data}, [this] { ++acks; });
    batch.Commit();
  }
  static std::string Finished(const std::string& machine, const std::string& id,
                              const std::string& task) {
    v1::AgentEvent ev;
    ev.set_event_id(id);
    ev.set_machine_id(machine);
    ev.mutable_task_finished()->set_task_id(task);
    ev.mutable_task_finished()->set_outcome(v1::TASK_OUTCOME_SUCCEEDED);
    return ev.SerializeAsString();
  }
};

}  // namespace

TEST_CASE("an event is applied once per event id and acknowledged after the commit", "[intake]") {
  Fixture f;
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-1"));
  CHECK(f.applied == std::vector<std::string>{"finished m-1 e-1 t-1"});
  CHECK(f.acks == 1);
  // Redelivered (an ack lost on the way): acknowledged again, applied once.
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-1"));
  CHECK(f.applied.size() == 1);
  CHECK(f.acks == 2);
  // The store remembers across a restart of the intake.
  EventIntake again({&f.ioc, &f.bus, &f.batch, f.store.get(), &f.blocking, "av"});
  again.Handle({"av.evt.m-1", "", Fixture::Finished("m-1", "e-1", "t-1")}, [] {});
  f.batch.Commit();
  CHECK(f.applied.size() == 1);
}

TEST_CASE("each kind goes to its own handler, with the model's fields", "[intake]") {
  Fixture f;
  v1::AgentEvent usage;
  usage.set_event_id("e-2");
  usage.set_machine_id("m-1");
  usage.mutable_usage()->set_cost_micros(1234);
  usage.mutable_usage()->set_task_id("t-1");
  f.Deliver("av.evt.m-1", usage.SerializeAsString());
  // A kind nobody routes (an agent saying it started) is acknowledged and dropped.
  v1::AgentEvent started;
  started.set_event_id("e-3");
  started.set_machine_id("m-1");
  started.mutable_agent_started()->set_agent_version("0.1.0");
  f.Deliver("av.evt.m-1", started.SerializeAsString());
  CHECK(f.applied == std::vector<std::string>{"usage m-1 e-2 1234"});
  CHECK(f.acks == 2);
}

TEST_CASE("what a machine may not say is refused, counted, acknowledged and changes nothing",
          "[intake]") {
  Fixture f;
  // For another machine than its subject's; with no event id; not a protobuf at all.
  f.Deliver("av.evt.m-2", Fixture::Finished("m-1", "e-4", "t-1"));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "", "t-1"));
  f.Deliver("av.evt.m-1", "\x0a\xff\xff garbage");
  CHECK(f.applied.empty());
  CHECK(f.acks == 3);  // never redelivered: it would never be accepted
  const auto rejected = f.bus.Stats().Rejected();
  CHECK(rejected.at({"agent_event", "subject_mismatch"}) == 1);
  CHECK(rejected.at({"agent_event", "no_event_id"}) == 1);
  CHECK(rejected.at({"agent_event", "undecodable"}) == 1);
  // None of them was recorded as applied: the same id from the right machine still counts.
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-4", "t-1"));
  CHECK(f.applied == std::vector<std::string>{"finished m-1 e-4 t-1"});
}

TEST_CASE("an event whose handler fails is not acknowledged, so it comes again", "[intake]") {
  Fixture f;
  bool fail = true;
  f.intake.Route(AgentEventKind::kTaskFinished, [&](const AgentEvent& e) -> Result<void> {
    if (fail) return MakeError(ErrorCode::kStore, "disk full");
    f.applied.push_back("finished " + e.event_id);
    return {};
  });
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-5", "t-1"));
  CHECK(f.acks == 0);
  CHECK(f.applied.empty());
  fail = false;
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-5", "t-1"));
  CHECK(f.applied == std::vector<std::string>{"finished e-5"});
  CHECK(f.acks == 1);
}

TEST_CASE("a handler that fails after writing leaves nothing of what it wrote", "[intake]") {
  // A poisoned event cannot leave half its effects behind: its writes are undone together,
  // while the batch's other work keeps its own.
  Fixture f;
  f.intake.Route(AgentEventKind::kTaskFinished, [&](const AgentEvent& e) -> Result<void> {
    auto wrote = f.store->MarkAgentEventApplied("written-by-" + e.event_id, 1);
    REQUIRE(wrote);
    REQUIRE(*wrote);
    return MakeError(ErrorCode::kStore, "disk full");
  });
  f.batch.Open();
  REQUIRE(*f.store->MarkAgentEventApplied("other-work", 1));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-6", "t-1"));
  CHECK(f.acks == 0);
  // Not recorded: both would be fresh again; the batch's other write was kept.
  CHECK(*f.store->MarkAgentEventApplied("written-by-e-6", 2));
  CHECK(*f.store->MarkAgentEventApplied("e-6", 2));
  CHECK_FALSE(*f.store->MarkAgentEventApplied("other-work", 2));
}
