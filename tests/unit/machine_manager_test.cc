// The machine manager (controller/machines/machine_manager): machines it makes join the fleet
// (a real one, in a real SQLite store) as provisioning, become ready when their agent
// registers, fail when they never do, and leave the fleet when terminated, each time telling
// the MachineListener why. The backend is a test provisioner (our own seam; the real
// backends have tests of their own against docker, libvirt, sshd and a Proxmox stand-in).
#include "controller/machines/machine_manager.h"

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

using namespace autovibe;
using namespace std::chrono_literals;
using autovibe::testing::ManualClock;
using autovibe::testing::TempDir;

namespace {

// A backend that makes nothing, but says what it was asked (on the manager's threads).
class TestProvisioner final : public Provisioner {
 public:
  std::string_view backend() const override { return "local"; }
  Result<std::string> Create(const MachineLaunch& launch) override {
    std::lock_guard lock(mu);
    created.push_back(launch.name);
    if (fail_creates) return MakeError(ErrorCode::kUnavailable, "no room on the host");
    return "instance-of-" + launch.name;
  }
  Result<void> Destroy(const std::string& name, const std::string&) override {
    std::lock_guard lock(mu);
    destroyed.push_back(name);
    return {};
  }
  std::vector<std::string> Created() {
    std::lock_guard lock(mu);
    return created;
  }
  std::vector<std::string> Destroyed() {
    std::lock_guard lock(mu);
    return destroyed;
  }
  std::mutex mu;
  std::vector<std::string> created, destroyed;
  bool fail_creates = false;
};

struct Heard final : MachineListener {
  std::vector<std::string> lines;
  void MachineRegistered(const MachineRecord& m, const std::vector<std::string>&) override {
    lines.push_back("registered " + m.name);
  }
  void MachineChanged(const MachineRecord& m) override {
    lines.push_back("changed " + m.name + " " + std::string(ToString(m.state)));
  }
  void MachineDown(const MachineRecord& m, MachineDownCause cause, const std::string&) override {
    lines.push_back("down " + m.name + " " + std::string(ToString(cause)));
  }
  void ReportedRunning(const std::string&, const std::vector<std::string>&) override {}
};

struct Orders final : MachineAgents {
  std::vector<std::string> sent;
  void Drain(const std::string& id) override { sent.push_back("drain " + id); }
  void Shutdown(const std::string& id) override { sent.push_back("shutdown " + id); }
  void SyncDisks(const std::string&, Duration, std::function<void(Result<void>)> done) override {
    done({});
  }
};

// The audit records the manager writes of its own decisions.
struct Audited final : AuditLog {
  std::vector<AuditRecord> records;
  void Record(AuditRecord r) override { records.push_back(std::move(r)); }
  // "controller:rule machine.action pool" of each record.
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    for (const auto& r : records) {
      out.push_back(r.actor + " " + r.action + (r.result == "ok" ? "" : " " + r.result));
    }
    return out;
  }
};

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  boost::asio::io_context ioc;
  Fleet fleet{*store, clock, {1s, 5s, "av"}};
  Heard heard;
  Orders orders;
  TestProvisioner* prov = nullptr;
  size_t tasks_on = 0;
  std::vector<WaitingTask> waiting;
  Audited audit;
  std::unique_ptr<MachineManager> manager;

  Fixture() {
    PoolConfig pool{.name = "local", .backend = "local", .max = 2, .boot_timeout = 30s};
    std::map<std::string, std::unique_ptr<Provisioner>> provs;
    auto p = std::make_unique<TestProvisioner>();
    prov = p.get();
    provs["local"] = std::move(p);
    MachineManagerDeps d;
    d.ioc = &ioc;
    d.fleet = &fleet;
    d.store = store.get();
    d.agents = &orders;
    d.clock = &clock;
    d.nats_url = "nats://127.0.0.1:4222";
    d.open_batch = [] {};
    d.listener = &heard;
    d.tasks_on = [this](const std::string&) { return tasks_on; };
    d.waiting_tasks = [this] { return waiting; };
    d.audit = &audit;
    d.may_spend = [](const std::string&) { return true; };
    manager = std::make_unique<MachineManager>(std::move(d), std::vector<PoolConfig>{pool},
                                               std::move(provs));
    manager->Load();
  }
  ~Fixture() { manager->Stop(); }

  // Runs the owner thread's queue until `done` holds (the provisioner answers on its own
  // threads), for at most 10 s.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc.restart();
      ioc.run_for(10ms);
    }
    return true;
  }
  MachineState State(const std::string& id) { return fleet.Find(id)->state; }
  // The machine's agent registers, as Registration does.
  void AgentRegisters(const std::string& id) {
    const MachineRecord& m = *fleet.Find(id);
    REQUIRE(fleet.Register({.name = m.name, .instance_id = "i-1"}).accepted);
    manager->Registered(*fleet.Find(id));
  }
};

}  // namespace

TEST_CASE("a spawned machine is made by its pool's backend and ready once its agent registers",
          "[machines]") {
  Fixture f;
  auto m = f.manager->Spawn({.pool = "local"});
  REQUIRE(m);
  const std::string id = (*m)->id;
  CHECK(f.State(id) == MachineState::kProvisioning);
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kBooting; }));
  CHECK(f.prov->Created() == std::vector<std::string>{(*m)->name});
  CHECK(f.fleet.Find(id)->instance == "instance-of-" + (*m)->name);
  f.AgentRegisters(id);
  CHECK(f.State(id) == MachineState::kReady);
  // The pool's max holds.
  REQUIRE(f.manager->Spawn({.pool = "local"}));
  auto third = f.manager->Spawn({.pool = "local"});
  REQUIRE_FALSE(third);
  CHECK(third.error().code == ErrorCode::kConflict);
}

TEST_CASE("a machine whose agent never registers fails, is removed, and its tasks go elsewhere",
          "[machines]") {
  Fixture f;
  const std::string id = (*f.manager->Spawn({.pool = "local"}))->id;
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kBooting; }));
  f.clock.now += 31'000;
  f.manager->Tick();
  CHECK(f.State(id) == MachineState::kFailed);
  CHECK(std::count(f.heard.lines.begin(), f.heard.lines.end(),
                   "down " + f.fleet.Find(id)->name + " failed") == 1);
  REQUIRE(f.RunUntil([&] { return f.prov->Destroyed().size() == 1; }));
  CHECK(f.audit.Lines() == std::vector<std::string>{"controller:spawn_failed machine.failed"});
  CHECK(f.audit.records[0].object_id == id);
}

TEST_CASE("a backend that cannot make the machine fails it and the pool backs off", "[machines]") {
  Fixture f;
  f.prov->fail_creates = true;
  const std::string id = (*f.manager->Spawn({.pool = "local"}))->id;
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kFailed; }));
  CHECK_THAT(f.heard.lines.back(), Catch::Contains("failed"));
  const auto pools = f.manager->Pools();
  REQUIRE(pools.size() == 1);
  CHECK_THAT(pools[0].last_error, Catch::Contains("no room on the host"));
  CHECK(pools[0].spawn_paused_until_ms > f.clock.now);
  CHECK(f.audit.Lines() == std::vector<std::string>{"controller:spawn_failed machine.failed"});
  CHECK_THAT(f.audit.records[0].details, Catch::Contains("no room on the host"));
}

TEST_CASE("the autoscaler's spawns and retirements are audited as its own decisions",
          "[machines]") {
  Fixture f;
  f.waiting.push_back({.id = "t-1", .project = "demo", .tool = "shell"});
  f.manager->Tick();  // a task must wait through one pass before the pool grows
  f.manager->Tick();
  REQUIRE(f.audit.records.size() == 1);
  CHECK(f.audit.Lines()[0] == "controller:autoscaler machine.spawn");
  const std::string id = f.audit.records[0].object_id;
  CHECK_THAT(f.audit.records[0].details, Catch::Contains("\"pool\":\"local\""));
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kBooting; }));
  f.AgentRegisters(id);
  f.waiting.clear();
  f.manager->Tick();
  f.clock.now += 11 * 60'000;  // past the pool's idle_timeout (10m)
  f.manager->Tick();
  REQUIRE(f.audit.records.size() == 2);
  CHECK(f.audit.Lines()[1] == "controller:autoscaler machine.retire");
  CHECK(f.audit.records[1].object_id == id);
}

TEST_CASE("terminate removes the instance and tells everyone the machine is gone", "[machines]") {
  Fixture f;
  const std::string id = (*f.manager->Spawn({.pool = "local"}))->id;
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kBooting; }));
  f.AgentRegisters(id);
  REQUIRE(f.manager->Terminate(id, "requested"));
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kTerminated; }));
  CHECK(f.prov->Destroyed().size() == 1);
  CHECK(std::count(f.heard.lines.begin(), f.heard.lines.end(),
                   "down " + f.fleet.Find(id)->name + " terminated") == 1);
  // Idempotent: a second terminate changes nothing.
  REQUIRE(f.manager->Terminate(id, "again"));
  CHECK(f.prov->Destroyed().size() == 1);
}

TEST_CASE("a drained machine takes no task and is terminated once its tasks are done",
          "[machines]") {
  Fixture f;
  const std::string id = (*f.manager->Spawn({.pool = "local"}))->id;
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kBooting; }));
  f.AgentRegisters(id);
  f.tasks_on = 1;
  REQUIRE(f.manager->Drain(id));
  CHECK(f.State(id) == MachineState::kDraining);
  CHECK(f.orders.sent == std::vector<std::string>{"drain " + id});
  f.manager->Tick();
  CHECK(f.State(id) == MachineState::kDraining);  // still busy
  f.tasks_on = 0;
  f.manager->Tick();
  REQUIRE(f.RunUntil([&] { return f.State(id) == MachineState::kTerminated; }));
  CHECK(f.audit.Lines() == std::vector<std::string>{"controller:drained machine.terminate"});
}
