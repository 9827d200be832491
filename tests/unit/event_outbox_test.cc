// The agent's event outbox against a Bus double that can refuse publishes (fake_event_bus.h),
// in memory and durable (a log in a temporary directory).
#include "worker-agent/runner/event_outbox.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "tests/support/process.h"
#include "tests/unit/fake_event_bus.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using testing::FakeEventBus;

EventOutboxOptions FastOptions() {
  EventOutboxOptions o;
  o.min_backoff = 5ms;
  o.max_backoff = 20ms;
  return o;
}

v1::AgentEvent Started(const std::string& task) {
  v1::AgentEvent e;
  e.mutable_task_started()->set_task_id(task);
  return e;
}

v1::AgentEvent Log(v1::LogStream stream, std::string data) {
  v1::AgentEvent e;
  e.mutable_task_log()->set_task_id("t-1");
  e.mutable_task_log()->set_stream(stream);
  e.mutable_task_log()->set_data(std::move(data));
  return e;
}

v1::AgentEvent Finished(const std::string& task) {
  v1::AgentEvent e;
  e.mutable_task_finished()->set_task_id(task);
  return e;
}

// A short description of each published event, to compare sequences.
std::vector<std::string> Kinds(const std::vector<FakeEventBus::Published>& events) {
  std::vector<std::string> out;
  for (const auto& p : events) {
    const v1::AgentEvent& e = p.event;
    switch (e.kind_case()) {
      case v1::AgentEvent::kTaskStarted:
        out.push_back("started " + e.task_started().task_id());
        break;
      case v1::AgentEvent::kTaskLog:
        out.push_back("log " + v1::LogStream_Name(e.task_log().stream()) + " " +
                      std::to_string(e.task_log().data().size()));
        break;
      case v1::AgentEvent::kTaskFinished:
        out.push_back("finished " + e.task_finished().task_id());
        break;
      default:
        out.push_back("other");
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the outbox publishes events in order on the machine's subject, id as msg id") {
  FakeEventBus bus;
  EventOutbox outbox(bus, FastOptions());
  CHECK_FALSE(outbox.Add(Started("t-0")));  // no machine id yet: nowhere to send it
  outbox.SetMachineId("m-1");
  for (int i = 1; i <= 5; ++i) REQUIRE(outbox.Add(Started("t-" + std::to_string(i))));
  REQUIRE(outbox.Flush(5s));
  auto events = bus.Events();
  CHECK(Kinds(events) == std::vector<std::string>{"started t-1", "started t-2", "started t-3",
                                                  "started t-4", "started t-5"});
  for (const auto& p : events) {
    CHECK(p.subject == "av.evt.m-1");
    CHECK(p.event.machine_id() == "m-1");
    CHECK(p.msg_id == p.event.event_id());
    CHECK(p.event.event_id().rfind("e-", 0) == 0);
    CHECK(p.event.at_unix_ns() > 0);
  }
  CHECK(bus.ensured() >= 1);
  CHECK(bus.stream_subjects() == std::vector<std::string>{"av.evt.>"});
}

TEST_CASE("the outbox retries a refused event until acknowledged, keeping the order") {
  FakeEventBus bus;
  bus.FailNext(4);
  EventOutbox outbox(bus, FastOptions());
  outbox.SetMachineId("m-1");
  REQUIRE(outbox.Add(Started("t-1")));
  REQUIRE(outbox.Add(Log(v1::LOG_STREAM_STDOUT, "hello")));
  REQUIRE(outbox.Add(Finished("t-1")));
  REQUIRE(outbox.Flush(5s));
  CHECK(Kinds(bus.Events()) ==
        std::vector<std::string>{"started t-1", "log LOG_STREAM_STDOUT 5", "finished t-1"});
  CHECK(bus.attempts() == 3 + 4);
  CHECK(outbox.Pending() == 0);
}

TEST_CASE("while the bus is down the outbox drops tool output over its cap, never the rest") {
  FakeEventBus bus;
  bus.SetDown(true);
  EventOutboxOptions o = FastOptions();
  o.max_log_bytes = 1000;
  EventOutbox outbox(bus, o);
  outbox.SetMachineId("m-1");
  REQUIRE(outbox.Add(Started("t-1")));
  CHECK(outbox.Add(Log(v1::LOG_STREAM_STDOUT, std::string(400, 'a'))));
  CHECK(outbox.Add(Log(v1::LOG_STREAM_STDERR, std::string(400, 'b'))));
  CHECK_FALSE(outbox.Add(Log(v1::LOG_STREAM_STDOUT, std::string(400, 'c'))));
  // Agent notes and task ends are not output: they always fit.
  CHECK(outbox.Add(Log(v1::LOG_STREAM_AGENT, std::string(400, 'n'))));
  CHECK(outbox.Add(Finished("t-1")));
  CHECK(outbox.DroppedLogBytes() == 400);
  CHECK_FALSE(outbox.Flush(50ms));
  CHECK(outbox.Pending() == 5);

  bus.SetDown(false);
  outbox.Wake();
  REQUIRE(outbox.Flush(5s));
  CHECK(Kinds(bus.Events()) == std::vector<std::string>{"started t-1", "log LOG_STREAM_STDOUT 400",
                                                        "log LOG_STREAM_STDERR 400",
                                                        "log LOG_STREAM_AGENT 400",
                                                        "finished t-1"});
  // Delivered output frees its room again.
  CHECK(outbox.Add(Log(v1::LOG_STREAM_STDOUT, std::string(900, 'd'))));
  REQUIRE(outbox.Flush(5s));
  CHECK(bus.Events().size() == 6);
}

}  // namespace autovibe

namespace autovibe {
namespace {

v1::AgentEvent Usage(const std::string& id, int64_t cost, bool estimated) {
  v1::AgentEvent e;
  e.set_event_id(id);
  e.mutable_usage()->set_task_id("t-1");
  e.mutable_usage()->set_cost_micros(cost);
  e.mutable_usage()->set_estimated(estimated);
  return e;
}

std::unique_ptr<EventOutbox> OpenDurable(Bus& bus, const std::string& dir) {
  EventOutboxOptions o = FastOptions();
  o.dir = dir;
  auto outbox = EventOutbox::Open(bus, o);
  REQUIRE(outbox);
  (*outbox)->SetMachineId("m-1");
  return std::move(*outbox);
}

std::vector<std::string> Ids(const std::vector<FakeEventBus::Published>& events) {
  std::vector<std::string> out;
  for (const auto& p : events) out.push_back(p.event.event_id());
  return out;
}

}  // namespace

TEST_CASE("a durable outbox sends after a restart what the stream had not acknowledged") {
  testing::TempDir tmp;
  FakeEventBus bus;
  std::vector<std::string> ids;
  {
    auto outbox = OpenDurable(bus, tmp / "outbox");
    REQUIRE(outbox->Add(Started("t-1")));
    REQUIRE(outbox->Flush(5s));  // acknowledged: not sent again
    bus.SetDown(true);
    REQUIRE(outbox->Add(Log(v1::LOG_STREAM_STDOUT, "out")));
    REQUIRE(outbox->Add(Usage("", 42, false)));
    REQUIRE(outbox->Add(Finished("t-1")));
    CHECK(outbox->Pending() == 3);
  }  // the agent is gone with three events unsent
  ids = Ids(bus.Events());
  REQUIRE(ids.size() == 1);

  FakeEventBus after;
  auto outbox = OpenDurable(after, tmp / "outbox");
  CHECK(outbox->RecoveredEvents() == 3);
  CHECK(outbox->RecoveredFallbacks() == 0);
  REQUIRE(outbox->Flush(5s));
  auto events = after.Events();
  CHECK(Kinds(events) ==
        std::vector<std::string>{"log LOG_STREAM_STDOUT 3", "other", "finished t-1"});
  CHECK(events[1].event.usage().cost_micros() == 42);
  for (const auto& p : events) {
    CHECK(p.event.event_id() != ids[0]);
    CHECK(p.msg_id == p.event.event_id());
    CHECK(p.subject == "av.evt.m-1");
  }
  // Sent once more after a second restart? No: acknowledged means dropped.
  const auto sent = Ids(events);
  outbox.reset();
  FakeEventBus third;
  auto again = OpenDurable(third, tmp / "outbox");
  CHECK(again->RecoveredEvents() == 0);

  // The ids are the ones the first run gave them (the controller applies each once).
  CHECK(std::set<std::string>(sent.begin(), sent.end()).size() == 3);
}

TEST_CASE("a fallback goes out after a restart only if its own event never came") {
  testing::TempDir tmp;
  FakeEventBus bus;
  bus.SetDown(true);
  {
    auto outbox = OpenDurable(bus, tmp / "outbox");
    REQUIRE(outbox->AddFallback(Usage("e-call-1", 900, true)));  // two calls reserve
    REQUIRE(outbox->AddFallback(Usage("e-call-2", 900, true)));
    REQUIRE(outbox->AddQuietly(Usage("e-call-1", 120, false)));  // the first one settles
    // Fallbacks are not sent while the agent lives: only the record waits for the bus.
    CHECK(outbox->Pending() == 1);
  }
  FakeEventBus after;
  auto outbox = OpenDurable(after, tmp / "outbox");
  CHECK(outbox->RecoveredEvents() == 2);
  CHECK(outbox->RecoveredFallbacks() == 1);
  REQUIRE(outbox->Flush(5s));
  auto events = after.Events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].event.event_id() == "e-call-1");
  CHECK(events[0].event.usage().cost_micros() == 120);  // the real record, not its estimate
  CHECK_FALSE(events[0].event.usage().estimated());
  CHECK(events[1].event.event_id() == "e-call-2");  // the call in flight: its estimate
  CHECK(events[1].event.usage().cost_micros() == 900);
  CHECK(events[1].event.usage().estimated());
}

TEST_CASE("a settled fallback leaves nothing behind once its event is acknowledged") {
  testing::TempDir tmp;
  FakeEventBus bus;
  {
    auto outbox = OpenDurable(bus, tmp / "outbox");
    for (int i = 0; i < 100; ++i) {
      const std::string id = "e-call-" + std::to_string(i);
      REQUIRE(outbox->AddFallback(Usage(id, 900, true)));
      REQUIRE(outbox->AddQuietly(Usage(id, 100, false)));
    }
    outbox->Kick();
    REQUIRE(outbox->Flush(5s));
    CHECK(bus.Events().size() == 100);
  }
  FakeEventBus after;
  auto outbox = OpenDurable(after, tmp / "outbox");
  CHECK(outbox->RecoveredEvents() == 0);
}

TEST_CASE("a durable outbox refuses to open where it cannot write") {
  testing::TempDir tmp;
  std::ofstream(tmp / "file") << "not a directory";
  FakeEventBus bus;
  EventOutboxOptions o = FastOptions();
  o.dir = tmp / "file/outbox";
  auto outbox = EventOutbox::Open(bus, o);
  REQUIRE_FALSE(outbox);
  CHECK(outbox.error().code == ErrorCode::kIo);
}

}  // namespace autovibe
