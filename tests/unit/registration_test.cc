// Registration (controller/agents/registration): what machines say when they join, heartbeat
// and stop, checked and applied to a real fleet in a real SQLite store; every way a machine
// goes away reaches the MachineListener with its cause. The bus is a recording double of our
// own seam; tests/integration/fleet_test.cc runs the same over a real nats-server.
#include "controller/agents/registration.h"

#include <catch2/catch.hpp>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"
#include "tests/unit/recording_bus.h"

using namespace autovibe;
using autovibe::testing::ManualClock;
using autovibe::testing::RecordingBus;
using autovibe::testing::TempDir;

namespace {

// What the listener heard, one line per call: "registered m-..", "down m-.. lost: why", ...
struct Heard final : MachineListener {
  std::vector<std::string> lines;
  void MachineRegistered(const MachineRecord& m, const std::vector<std::string>& running) override {
    lines.push_back("registered " + m.name + " running " + std::to_string(running.size()));
  }
  void MachineChanged(const MachineRecord& m) override { lines.push_back("changed " + m.name); }
  void MachineDown(const MachineRecord& m, MachineDownCause cause,
                   const std::string& why) override {
    lines.push_back("down " + m.name + " " + std::string(ToString(cause)) + ": " + why);
  }
  void ReportedRunning(const std::string& id, const std::vector<std::string>& tasks) override {
    lines.push_back("running " + id + " " + std::to_string(tasks.size()));
  }
};

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  boost::asio::io_context ioc;
  RecordingBus bus;
  Fleet fleet{*store, clock, {std::chrono::seconds(1), std::chrono::seconds(5), "av"}};
  WriteBatch batch{*store, ioc, std::chrono::microseconds(0)};
  Heard heard;
  Registration reg{{&ioc, &bus, &batch, &fleet, &clock, nullptr, &heard}};

  // Registers `name` on `subject` and returns the reply the machine got (after the commit).
  v1::RegisterReply Register(const std::string& name, const std::string& subject = "av.register",
                             const std::string& instance = "i-1",
                             const std::string& machine_id = "",
                             std::vector<std::string> running = {}) {
    v1::RegisterRequest req;
    req.set_name(name);
    req.set_instance_id(instance);
    req.set_machine_id(machine_id);
    req.add_tools("shell");
    for (const auto& t : running) req.add_running_task_ids(t);
    const std::string inbox = "_INBOX.r" + std::to_string(++asked);
    reg.OnRegister({subject, inbox, req.SerializeAsString()});
    batch.Commit();
    auto replies = bus.To(inbox);
    v1::RegisterReply reply;
    REQUIRE(replies.size() == 1);
    REQUIRE(reply.ParseFromString(replies[0].data));
    return reply;
  }
  void Beat(const std::string& id, const std::string& subject, std::vector<std::string> running) {
    v1::Heartbeat hb;
    hb.set_machine_id(id);
    hb.set_sequence(++beats);
    for (const auto& t : running) hb.add_running_task_ids(t);
    reg.OnHeartbeat({subject, "", hb.SerializeAsString()});
  }
  int asked = 0;
  uint64_t beats = 0;
};

}  // namespace

TEST_CASE("a registration is answered once durable, with the machine's id and settings",
          "[registration]") {
  Fixture f;
  auto reply = f.Register("alpha", "av.register", "i-1", "", {"t-1"});
  REQUIRE(reply.error().empty());
  CHECK(reply.machine_id().starts_with("m-"));
  CHECK(reply.heartbeat_interval_ms() == 1000);
  CHECK(reply.settings().subject_prefix() == "av");
  CHECK(f.heard.lines == std::vector<std::string>{"registered alpha running 1"});
  // Durable: a fleet loaded afresh from the store knows it.
  Fleet again(*f.store, f.clock, f.fleet.options());
  REQUIRE(again.Load());
  CHECK(again.FindByName("alpha") != nullptr);
}

TEST_CASE("a registration that speaks for another machine is refused and changes nothing",
          "[registration]") {
  Fixture f;
  const std::string alpha = f.Register("alpha").machine_id();
  f.heard.lines.clear();
  // On alpha's own subject, but naming another id; then alpha's id under another name.
  auto other_id = f.Register("beta", "av.register." + alpha, "i-2", "m-0123456789ab");
  CHECK_THAT(other_id.error(), Catch::Contains("must carry machine id " + alpha));
  auto other_name = f.Register("beta", "av.register." + alpha, "i-2", alpha);
  CHECK_THAT(other_name.error(), Catch::Contains("cannot register under the name beta"));
  CHECK(f.fleet.FindByName("beta") == nullptr);
  CHECK(f.heard.lines.empty());
  CHECK(f.bus.Stats().Rejected().at({"register", "subject_mismatch"}) == 2);
}

TEST_CASE("garbage and answers to non-inbox subjects are refused", "[registration]") {
  Fixture f;
  f.reg.OnRegister({"av.register", "_INBOX.x", "\xff\xfe not a protobuf"});
  f.batch.Commit();
  v1::RegisterReply reply;
  REQUIRE(f.bus.To("_INBOX.x").size() == 1);
  REQUIRE(reply.ParseFromString(f.bus.To("_INBOX.x")[0].data));
  CHECK_THAT(reply.error(), Catch::Contains("not a valid RegisterRequest"));
  // A reply subject that is not an inbox could make the controller publish into another
  // machine's subjects: the registration is applied but never answered there.
  v1::RegisterRequest req;
  req.set_name("gamma");
  f.reg.OnRegister({"av.register", "av.cmd.m-000000000001", req.SerializeAsString()});
  f.batch.Commit();
  CHECK(f.bus.To("av.cmd.m-000000000001").empty());
  CHECK(f.bus.Stats().Rejected().at({"register", "bad_reply_subject"}) == 1);
  CHECK(f.fleet.List().size() == 1);
}

TEST_CASE("a new agent process on a known machine: its old tasks are gone first",
          "[registration]") {
  Fixture f;
  const std::string id = f.Register("alpha", "av.register", "i-1").machine_id();
  f.heard.lines.clear();
  CHECK(f.Register("alpha", "av.register", "i-2", id).machine_id() == id);
  CHECK(f.heard.lines ==
        std::vector<std::string>{"down alpha agent_restarted: the agent on machine alpha restarted",
                                 "registered alpha running 0"});
  // The same process registering again (a reconnection) is no restart.
  f.heard.lines.clear();
  f.Register("alpha", "av.register", "i-2", id);
  CHECK(f.heard.lines == std::vector<std::string>{"registered alpha running 0"});
}

TEST_CASE("heartbeats: applied from the machine's own subject, strangers asked to register",
          "[registration]") {
  Fixture f;
  const std::string id = f.Register("alpha").machine_id();
  f.heard.lines.clear();
  f.Beat(id, "av.hb." + id, {"t-1", "t-2"});
  CHECK(f.heard.lines == std::vector<std::string>{"running " + id + " 2"});
  // Another machine's subject: dropped, counted.
  f.Beat(id, "av.hb.m-999999999999", {"t-3"});
  CHECK(f.heard.lines.size() == 1);
  CHECK(f.bus.Stats().Rejected().at({"heartbeat", "subject_mismatch"}) == 1);
  // A machine the fleet does not know is told to register, at most once a second.
  const std::string stranger = "m-00000000abcd";
  f.Beat(stranger, "av.hb." + stranger, {});
  f.Beat(stranger, "av.hb." + stranger, {});
  auto asked = f.bus.To("av.cmd." + stranger);
  REQUIRE(asked.size() == 1);
  v1::Command cmd;
  REQUIRE(cmd.ParseFromString(asked[0].data));
  CHECK(cmd.has_reregister());
  f.clock.now += 1001;
  f.Beat(stranger, "av.hb." + stranger, {});
  CHECK(f.bus.To("av.cmd." + stranger).size() == 2);
}

TEST_CASE("a silent machine is lost, once, and not while the bus is down", "[registration]") {
  Fixture f;
  const std::string id = f.Register("alpha").machine_id();
  f.heard.lines.clear();
  f.bus.connected = false;
  f.clock.now += 6000;
  f.reg.CheckLiveness();
  CHECK(f.heard.lines.empty());  // cut off from the bus, silence says nothing
  f.bus.connected = true;
  f.clock.now += 6000;
  f.reg.CheckLiveness();
  f.reg.CheckLiveness();
  CHECK(f.heard.lines ==
        std::vector<std::string>{
            "down alpha lost: machine alpha was lost (no heartbeat within 5000 ms)"});
  CHECK(f.fleet.Find(id)->state == MachineState::kLost);
}

TEST_CASE("an agent's stopping notice loses its machine at once, unless it is stale",
          "[registration]") {
  Fixture f;
  const std::string id = f.Register("alpha").machine_id();
  f.heard.lines.clear();
  // Sent before the machine registered: stale, ignored.
  AgentEvent stale{"e-1", id, f.clock.now - 1000, AgentStoppingEvent{"old"}};
  REQUIRE(f.reg.AgentStopping(stale));
  CHECK(f.heard.lines.empty());
  AgentEvent now{"e-2", id, f.clock.now + 10, AgentStoppingEvent{"SIGTERM"}};
  REQUIRE(f.reg.AgentStopping(now));
  CHECK(f.heard.lines == std::vector<std::string>{
                             "down alpha agent_stopped: the agent on machine " + id + " stopped"});
  CHECK(f.fleet.Find(id)->state == MachineState::kLost);
}
