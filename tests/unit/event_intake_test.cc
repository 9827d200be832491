// The events intake (controller/agents/event_intake): every agent event enters here, is
// checked, applied once per event id (the ids live in a real SQLite store) and routed to the
// handler of its kind; it is acknowledged only once what it changed is durable. The bus is a
// recording double of our own seam; tests/integration runs the stream over a real nats-server.
// What a machine may say is decided by the real SenderRules over a real budget book; only the
// task book is a stand-in (which task attempt is placed where).
#include "controller/agents/event_intake.h"

#include <catch2/catch.hpp>

#include "autovibe/v1/event.pb.h"
#include "tests/support/process.h"
#include "tests/unit/budget_test_fixture.h"
#include "tests/unit/recording_bus.h"

using namespace autovibe;
using autovibe::testing::BudgetFixture;
using autovibe::testing::RecordingBus;
using autovibe::testing::Usd;

namespace {

struct Fixture : BudgetFixture {
  boost::asio::io_context ioc;
  boost::asio::thread_pool blocking{1};
  RecordingBus bus;
  WriteBatch batch{*store, ioc, std::chrono::microseconds(0)};
  Refusals refusals;
  SenderRules rules{{&tasks, book.get(), &clock}};
  EventIntake intake{{&ioc, &bus, &batch, store.get(), &blocking, "av", &rules, &refusals}};
  std::vector<std::string> applied;  // "kind machine event-id"
  int acks = 0;

  Fixture() {
    REQUIRE(SetUsd(Usd(100)));
    Place("t-1", "m-1", "demo");
    intake.Route(AgentEventKind::kTaskFinished, [this](const AgentEvent& e) -> Result<void> {
      const auto& f = std::get<TaskFinishedEvent>(e.what);
      applied.push_back("finished " + e.machine_id + " " + e.event_id + " " + f.task_id);
      return {};
    });
    intake.Route(AgentEventKind::kUsage, [this](const AgentEvent& e) -> Result<void> {
      const auto& u = std::get<UsageReport>(e.what);
      applied.push_back("usage " + e.machine_id + " " + e.event_id + " " +
                        std::to_string(u.cost_micros));
      return book->ApplyUsage(e.machine_id, clock.now, u, e.event_id);
    });
    intake.Route(AgentEventKind::kCheckpointCreated, [this](const AgentEvent& e) -> Result<void> {
      const auto& c = std::get<CheckpointCreatedEvent>(e.what);
      applied.push_back("checkpoint " + e.machine_id + " " + e.event_id + " " + c.checkpoint.id);
      return {};
    });
  }

  // Delivers one message as the stream would, then commits what waits for the commit.
  void Deliver(const std::string& subject, const std::string& data) {
    intake.Handle({subject, "", data}, [this] { ++acks; });
    batch.Commit();
  }
  static std::string Finished(const std::string& machine, const std::string& id,
                              const std::string& task, uint32_t attempt = 1) {
    v1::AgentEvent ev;
    ev.set_event_id(id);
    ev.set_machine_id(machine);
    ev.mutable_task_finished()->set_task_id(task);
    ev.mutable_task_finished()->set_attempt(attempt);
    ev.mutable_task_finished()->set_outcome(v1::TASK_OUTCOME_SUCCEEDED);
    return ev.SerializeAsString();
  }
  static std::string Usage(const std::string& id, const std::string& task, const std::string& lease,
                           int64_t cost, uint32_t attempt = 1) {
    v1::AgentEvent ev;
    ev.set_event_id(id);
    auto* u = ev.mutable_usage();
    u->set_task_id(task);
    u->set_attempt(attempt);
    u->set_project("demo");
    u->set_lease_id(lease);
    u->set_kind("llm");
    u->set_status("ok");
    u->set_cost_micros(cost);
    return ev.SerializeAsString();
  }
  static std::string Checkpoint(const std::string& id, const std::string& checkpoint,
                                const std::string& task, int64_t created_at_ms,
                                uint32_t attempt = 1, const std::string& machine = "") {
    v1::AgentEvent ev;
    ev.set_event_id(id);
    auto* c = ev.mutable_checkpoint_created();
    c->set_attempt(attempt);
    auto* m = c->mutable_manifest();
    m->set_id(checkpoint);
    m->set_task_id(task);
    m->set_machine_id(machine);
    m->set_root(std::string(32, 'r'));
    m->set_trigger("auto");
    m->set_created_unix_ms(created_at_ms);
    return ev.SerializeAsString();
  }
  // Grants `lease` of task t-1 (attempt 1) to m-1, as the lease service would.
  void GrantLease(const std::string& lease) {
    REQUIRE(book->Grant("m-1", Request("m-1", lease, "t-1", Usd(0.10), Usd(1.00))).ok);
  }
  int64_t SpentUsd() { return UsdUsage().spent; }
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
  EventIntake again(
      {&f.ioc, &f.bus, &f.batch, f.store.get(), &f.blocking, "av", &f.rules, &f.refusals});
  again.Handle({"av.evt.m-1", "", Fixture::Finished("m-1", "e-1", "t-1")}, [] {});
  f.batch.Commit();
  CHECK(f.applied.size() == 1);
}

TEST_CASE("each kind goes to its own handler, with the model's fields", "[intake]") {
  Fixture f;
  f.GrantLease("l-1");
  f.Deliver("av.evt.m-1", Fixture::Usage("e-2", "t-1", "l-1", 1234));
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
  CHECK(f.refusals.Of("task_finished", "subject_mismatch") == 1);
  CHECK(f.refusals.Of("task_finished", "no_event_id") == 1);
  CHECK(f.bus.Stats().Rejected().at({"agent_event", "undecodable"}) == 1);
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

TEST_CASE("task events count only from the machine their attempt is placed on", "[intake]") {
  Fixture f;
  f.Place("t-2", "m-2", "demo");
  // Another machine's task; an attempt that is not the current one; a task nobody knows.
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-2"));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-2", "t-1", 2));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-3", "t-9"));
  // With the payload naming no machine at all, the subject still says who sends.
  f.Deliver("av.evt.m-1", Fixture::Finished("", "e-4", "t-2"));
  CHECK(f.applied.empty());
  CHECK(f.acks == 4);
  CHECK(f.refusals.Of("task_finished", "not_your_task") == 2);
  CHECK(f.refusals.Of("task_finished", "stale_attempt") == 1);
  CHECK(f.refusals.Of("task_finished", "unknown_task") == 1);
  // A refused event comes again (its ack was lost): acknowledged, not counted twice.
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-2"));
  CHECK(f.acks == 5);
  CHECK(f.refusals.Of("task_finished", "not_your_task") == 2);
  // Each machine's own: applied, under the subject's machine id.
  f.Deliver("av.evt.m-2", Fixture::Finished("", "e-5", "t-2"));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-6", "t-1"));
  CHECK(f.applied == std::vector<std::string>{"finished m-2 e-5 t-2", "finished m-1 e-6 t-1"});
}

TEST_CASE("usage is charged only under a lease the sending machine holds", "[intake]") {
  Fixture f;
  f.Place("t-2", "m-2", "other");
  f.AddProject("other");
  f.GrantLease("l-1");
  // m-2 names m-1's lease; m-2 names m-1's task under a lease of its own making; m-1 names a
  // lease that does not exist; m-1's lease, but for another attempt.
  f.Deliver("av.evt.m-2", Fixture::Usage("e-1", "t-1", "l-1", Usd(40)));
  f.Deliver("av.evt.m-2", Fixture::Usage("e-2", "t-1", "l-forged", Usd(40)));
  f.Deliver("av.evt.m-1", Fixture::Usage("e-3", "t-1", "l-forged", Usd(40)));
  f.Deliver("av.evt.m-1", Fixture::Usage("e-4", "t-1", "l-1", Usd(40), 2));
  // m-1's lease, but naming m-2's task (of another project).
  f.Deliver("av.evt.m-1", Fixture::Usage("e-5", "t-2", "l-1", Usd(40)));
  CHECK(f.acks == 5);
  CHECK(f.applied.empty());
  CHECK(f.refusals.Of("usage", "not_your_lease") == 1);
  CHECK(f.refusals.Of("usage", "not_your_task") == 2);
  CHECK(f.refusals.Of("usage", "no_lease") == 1);
  CHECK(f.refusals.Of("usage", "stale_attempt") == 1);
  // The ledger is as it was: nothing spent, nothing reserved beyond the lease.
  CHECK(f.SpentUsd() == 0);
  auto other = f.book->Usage("other");
  REQUIRE(other);
  CHECK(other->totals.usd_micros == 0);
  // The record of m-1's own call under its own lease is charged.
  f.Deliver("av.evt.m-1", Fixture::Usage("e-6", "t-1", "l-1", Usd(0.25)));
  CHECK(f.applied == std::vector<std::string>{"usage m-1 e-6 250000"});
  CHECK(f.SpentUsd() == Usd(0.25));
}

TEST_CASE("usage that arrives after its attempt ended is charged to the lease it was spent under",
          "[intake]") {
  Fixture f;
  f.GrantLease("l-1");
  // The attempt ended and the task went on elsewhere; m-1's lease is closed with a record
  // still on its way.
  REQUIRE(f.Close("m-1", "l-1", "t-1", Usd(0.30)).ok);
  f.Place("t-1", "m-2", "demo", 0, 2);
  f.Deliver("av.evt.m-1", Fixture::Usage("e-1", "t-1", "l-1", Usd(0.30)));
  CHECK(f.applied.size() == 1);
  CHECK(f.SpentUsd() == Usd(0.30));
  // Settled in full, the lease is gone: nothing more is charged under it.
  CHECK(f.book->FindLease("l-1") == nullptr);
  f.Deliver("av.evt.m-1", Fixture::Usage("e-2", "t-1", "l-1", Usd(5)));
  CHECK(f.refusals.Of("usage", "stale_attempt") == 1);
  CHECK(f.SpentUsd() == Usd(0.30));
}

TEST_CASE(
    "a checkpoint counts only from its task's machine, dated by a sane clock, in order of "
    "receipt",
    "[intake]") {
  Fixture f;
  f.Place("t-2", "m-2", "demo");
  const int64_t now = f.clock.now;
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-1", "cp-a", "t-2", now));     // m-2's task
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-2", "cp-b", "t-1", now, 3));  // attempt 3
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-3", "cp-c", "t-1", now + 3'600'000));  // future
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-4", "cp-d", "t-1", now, 1, "m-2"));    // names m-2
  CHECK(f.applied.empty());
  CHECK(f.refusals.Of("checkpoint_created", "not_your_task") == 1);
  CHECK(f.refusals.Of("checkpoint_created", "stale_attempt") == 1);
  CHECK(f.refusals.Of("checkpoint_created", "future_dated") == 1);
  CHECK(f.refusals.Of("checkpoint_created", "subject_mismatch") == 1);
  // Its own task, a clock a minute ahead; one taken on command, attempt unknown (0); one of
  // no task (the machine's own).
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-5", "cp-e", "t-1", now + 60'000));
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-6", "cp-f", "t-1", now, 0));
  f.Deliver("av.evt.m-1", Fixture::Checkpoint("e-7", "cp-g", "", now, 0, "m-1"));
  CHECK(f.applied == std::vector<std::string>{"checkpoint m-1 e-5 cp-e", "checkpoint m-1 e-6 cp-f",
                                              "checkpoint m-1 e-7 cp-g"});
}

TEST_CASE("an event past its size or id limits is refused with a clear reason", "[intake]") {
  Fixture f;
  const std::string long_id(200, 'x');
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", long_id, "t-1"));
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", long_id));
  f.GrantLease("l-1");
  f.Deliver("av.evt.m-1", Fixture::Usage("e-2", "t-1", long_id, 1));
  v1::AgentEvent log;
  log.set_event_id("e-3");
  log.mutable_task_log()->set_task_id("t-1");
  log.mutable_task_log()->set_attempt(1);
  log.mutable_task_log()->set_data(std::string(200 << 10, 'a'));
  f.Deliver("av.evt.m-1", log.SerializeAsString());
  v1::AgentEvent finished;
  REQUIRE(finished.ParseFromString(Fixture::Finished("m-1", "e-4", "t-1")));
  finished.mutable_task_finished()->set_reason(std::string(100 << 10, 'r'));
  f.Deliver("av.evt.m-1", finished.SerializeAsString());
  // A subject below a machine's own.
  f.Deliver("av.evt.m-1.x", Fixture::Finished("", "e-5", "t-1"));
  CHECK(f.acks == 6);
  CHECK(f.applied.empty());
  CHECK(f.refusals.Of("task_finished", "id_too_long") == 2);
  CHECK(f.refusals.Of("usage", "id_too_long") == 1);
  CHECK(f.refusals.Of("task_log", "too_large") == 1);
  CHECK(f.refusals.Of("task_finished", "too_large") == 1);
  CHECK(f.refusals.Of("task_finished", "bad_subject") == 1);
  // Never recorded as applied: the same ids, within bounds, are applied.
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-4", "t-1"));
  CHECK(f.applied == std::vector<std::string>{"finished m-1 e-4 t-1"});
}

TEST_CASE("applied event ids are forgotten once the stream can no longer bring them again",
          "[intake]") {
  Fixture f;
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-1"));
  const int64_t now = UnixNowNs() / 1'000'000;
  constexpr int64_t kDay = 86'400'000;
  // The stream keeps events 7 days: a day later the id is still known, a copy is ignored.
  f.intake.ForgetOldEvents(now + kDay);
  f.batch.Commit();
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-1"));
  CHECK(f.applied.size() == 1);
  // Past the stream's retention (and a margin), it is forgotten.
  f.intake.ForgetOldEvents(now + 9 * kDay);
  f.batch.Commit();
  f.Deliver("av.evt.m-1", Fixture::Finished("m-1", "e-1", "t-1"));
  CHECK(f.applied.size() == 2);
}
