#include "controller/fleet/fleet.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

using namespace autovibe;
using autovibe::testing::ManualClock;
using autovibe::testing::TempDir;

namespace {

MachineRegistration Req(const std::string& name) {
  MachineRegistration r;
  r.name = name;
  r.agent_version = "0.1.0";
  r.tools.push_back("shell");
  r.labels["pool"] = "local";
  r.resources.cpu_cores = 4;
  r.resources.mem_total_bytes = 8ull << 30;
  return r;
}

HeartbeatReport Beat(const std::string& id, double load) {
  HeartbeatReport hb;
  hb.machine_id = id;
  hb.resources.load1 = load;
  return hb;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  FleetOptions opts{std::chrono::seconds(1), std::chrono::seconds(5), "av"};
  std::unique_ptr<Fleet> fleet = std::make_unique<Fleet>(*store, clock, opts);

  void Restart() {
    fleet = std::make_unique<Fleet>(*store, clock, opts);
    REQUIRE(fleet->Load());
  }
};

}  // namespace

TEST_CASE("a registered machine is ready, stored, and lost when its heartbeats stop") {
  Fixture f;
  auto reply = f.fleet->Register(Req("alpha"));
  REQUIRE(reply.error.empty());
  CHECK(reply.accepted);
  const MachineRecord* m = f.fleet->Find(reply.machine_id);
  REQUIRE(m != nullptr);
  CHECK(m->state == MachineState::kReady);
  CHECK(m->labels.at("pool") == "local");
  CHECK(m->resources.cpu_cores == 4);
  CHECK((*f.store->LoadMachines()).size() == 1);
  CHECK((*f.store->MachineEvents(m->id)).front().kind == "machine.registered");
}

TEST_CASE("no heartbeat within the ttl makes a machine lost, and coming back keeps its id") {
  Fixture f;
  const std::string id = f.fleet->Register(Req("alpha")).machine_id;
  f.clock.now += 4000;
  REQUIRE(f.fleet->Heartbeat(Beat(id, 0.5)) == HeartbeatOutcome::kApplied);
  f.clock.now += 5000;  // exactly at the deadline: not yet lost
  CHECK(f.fleet->CheckLiveness().empty());
  f.clock.now += 1;
  CHECK(f.fleet->CheckLiveness().size() == 1);
  CHECK(f.fleet->Find(id)->state == MachineState::kLost);
  // A lost machine's heartbeats are not applied: it must register again.
  CHECK(f.fleet->Heartbeat(Beat(id, 0.5)) == HeartbeatOutcome::kUnknownMachine);
  auto again = f.fleet->Register(Req("alpha"));
  CHECK(again.machine_id == id);
  CHECK(f.fleet->Find(id)->state == MachineState::kReady);
  auto events = *f.store->MachineEvents(id);
  REQUIRE(events.size() == 3);
  CHECK(events[1].kind == "machine.lost");
  CHECK(events[2].kind == "machine.reregistered");
}

TEST_CASE("a restarted controller keeps machines and gives them a fresh deadline") {
  Fixture f;
  const std::string id = f.fleet->Register(Req("alpha")).machine_id;
  REQUIRE(f.fleet->Heartbeat(Beat(id, 1.25)) == HeartbeatOutcome::kApplied);
  REQUIRE(f.fleet->Flush());
  f.clock.now += 60'000;  // the controller was down for a minute
  f.Restart();
  const MachineRecord* m = f.fleet->Find(id);
  REQUIRE(m != nullptr);
  CHECK(m->state == MachineState::kReady);
  CHECK(m->resources.load1 == Approx(1.25));
  CHECK(f.fleet->CheckLiveness().empty());
  f.clock.now += 5001;
  CHECK(f.fleet->CheckLiveness().size() == 1);
}

TEST_CASE("invalid registrations are refused and change nothing") {
  Fixture f;
  auto bad_name = Req("../etc");
  auto empty_name = Req("");
  auto long_name = Req(std::string(64, 'a'));
  auto bad_label = Req("ok");
  bad_label.labels["has space"] = "x";
  auto many_tools = Req("ok2");
  for (int i = 0; i < 40; ++i) many_tools.tools.push_back("t" + std::to_string(i));
  for (auto* r : {&bad_name, &empty_name, &long_name, &bad_label, &many_tools}) {
    auto reply = f.fleet->Register(*r);
    CHECK_FALSE(reply.error.empty());
    CHECK(reply.machine_id.empty());
  }
  CHECK(f.fleet->List().empty());
  CHECK((*f.store->LoadMachines()).empty());
  CHECK(f.fleet->counters().invalid.at("register") == 5);
}

TEST_CASE("heartbeats for unknown or malformed machine ids change nothing") {
  Fixture f;
  const std::string id = f.fleet->Register(Req("alpha")).machine_id;
  CHECK(f.fleet->Heartbeat(Beat("m-000000000000", 9)) == HeartbeatOutcome::kUnknownMachine);
  CHECK(f.fleet->Heartbeat(Beat("", 9)) == HeartbeatOutcome::kInvalid);
  CHECK(f.fleet->Heartbeat(Beat(std::string(1000, 'x'), 9)) == HeartbeatOutcome::kInvalid);
  CHECK(f.fleet->Find(id)->resources.load1 == 0);
  CHECK(f.fleet->List().size() == 1);
}

TEST_CASE("machine names are checked") {
  CHECK(ValidMachineName("worker-01.lab_a"));
  CHECK_FALSE(ValidMachineName("-lead"));
  CHECK_FALSE(ValidMachineName("a/b"));
  CHECK_FALSE(ValidMachineName("a b"));
  CHECK_FALSE(ValidMachineName(""));
}

TEST_CASE("heartbeats are written in slices that together cover every changed machine") {
  Fixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i)
    ids.push_back(f.fleet->Register(Req("m" + std::to_string(i))).machine_id);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 2 == 0)
      REQUIRE(f.fleet->Heartbeat(Beat(ids[i], 1.0 + i)) == HeartbeatOutcome::kApplied);
  }
  // 13 changed rows, 5 per slice: three slices, the last one says it is done.
  CHECK(*f.fleet->FlushSome(5) == false);
  CHECK(*f.fleet->FlushSome(5) == false);
  CHECK(*f.fleet->FlushSome(5) == true);
  auto stored = *f.store->LoadMachines();
  int written = 0;
  for (const auto& m : stored) written += m.resources.load1 > 0;
  CHECK(written == 13);
  // Nothing left: one call is enough.
  CHECK(*f.fleet->FlushSome(5) == true);
}

TEST_CASE("resource figures that are not finite or out of range are refused") {
  Fixture f;
  const std::string id = f.fleet->Register(Req("alpha")).machine_id;
  for (double load : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0, 1e9}) {
    CHECK(f.fleet->Heartbeat(Beat(id, load)) == HeartbeatOutcome::kInvalid);
  }
  auto huge = Beat(id, 1);
  huge.resources.mem_total_bytes = ~uint64_t{0};
  CHECK(f.fleet->Heartbeat(huge) == HeartbeatOutcome::kInvalid);
  CHECK(f.fleet->Find(id)->resources.load1 == 0);
  REQUIRE(f.fleet->Flush());
  auto nan_register = Req("beta");
  nan_register.resources.load1 = std::nan("");
  CHECK_FALSE(f.fleet->Register(nan_register).error.empty());
  CHECK(f.fleet->List().size() == 1);
}

TEST_CASE("a second live agent under a taken name is refused and the first keeps its machine") {
  Fixture f;
  auto first = Req("twin");
  const std::string id = f.fleet->Register(first).machine_id;
  auto clone = Req("twin");  // another data dir: it does not know the id
  auto refused = f.fleet->Register(clone);
  CHECK(refused.error.find("in use") != std::string::npos);
  clone.machine_id = "m-0123456789ab";
  CHECK_FALSE(f.fleet->Register(clone).error.empty());
  // The first agent re-registering with its own id is fine.
  first.machine_id = id;
  CHECK(f.fleet->Register(first).machine_id == id);
  // Once the first one has gone quiet past the ttl, the name is free again.
  f.clock.now += 6000;
  CHECK(f.fleet->Register(Req("twin")).machine_id == id);
}

TEST_CASE("an agent keeps its id when the controller lost its database") {
  Fixture f;
  auto req = Req("phoenix");
  req.machine_id = "m-00aa11bb22cc";
  CHECK(f.fleet->Register(req).machine_id == "m-00aa11bb22cc");
  auto bad = Req("other");
  bad.machine_id = "m-../../etc";
  CHECK_FALSE(f.fleet->Register(bad).error.empty());
}

TEST_CASE("a heartbeat older than one already applied does not overwrite it") {
  Fixture f;
  const std::string id = f.fleet->Register(Req("alpha")).machine_id;
  auto newer = Beat(id, 2.0);
  newer.sequence = 5;
  auto older = Beat(id, 1.0);
  older.sequence = 4;
  REQUIRE(f.fleet->Heartbeat(newer) == HeartbeatOutcome::kApplied);
  REQUIRE(f.fleet->Heartbeat(older) == HeartbeatOutcome::kApplied);
  CHECK(f.fleet->Find(id)->resources.load1 == 2.0);
  CHECK(f.fleet->counters().heartbeats_stale == 1);
}
