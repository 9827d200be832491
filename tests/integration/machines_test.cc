// Machines the controller makes itself, on the `local` backend: a real nats-server, the
// controller and agent processes it starts. Spawn, drain, terminate, boot deadlines, the
// autoscaler growing and shrinking a pool with the queue and the machine_seconds budget, and
// local machines outliving a controller restart.
#include <signal.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct PoolSpec {
  uint32_t min = 0;
  uint32_t max = 2;
  std::string idle_timeout = "1h";
  std::string boot_timeout = "20s";
  std::string agent;  // empty: the real autovibe-agent
};

// A controller config with one local pool named "local".
std::string WriteConfig(const TempDir& dir, const PoolSpec& p) {
  std::string toml =
      "[[pool]]\nname = \"local\"\nbackend = \"local\"\nmin = " + std::to_string(p.min) +
      "\nmax = " + std::to_string(p.max) + "\nidle_timeout = \"" + p.idle_timeout +
      "\"\nboot_timeout = \"" + p.boot_timeout +
      "\"\nlabels = { pool = \"local\" }\n"
      "[pool.agent]\nupstreams = { anthropic = \"mock\", openai = \"mock\" }\n";
  if (!p.agent.empty()) toml += "[pool.local]\nagent = \"" + p.agent + "\"\n";
  const std::string path = dir / "controller.toml";
  std::ofstream(path) << toml;
  return path;
}

std::vector<std::string> Args(const std::string& config) {
  return {"--config", config, "--heartbeat-interval", "200ms", "--heartbeat-ttl", "3s"};
}

json::object Object(const autovibe::Result<autovibe::HttpReply>& r) {
  if (!r) return {};
  auto v = json::parse(r->body);
  return v.is_object() ? v.as_object() : json::object();
}

pid_t PidOf(ControllerProcess& c, const std::string& id) {
  return static_cast<pid_t>(
      std::stol(JsonString(Object(c.Call("GET", "/v1/machines/" + id)), "instance")));
}

// Machines of the pool that are not gone.
int LiveMachines(ControllerProcess& c) {
  int n = 0;
  for (const auto& m : c.Machines()) {
    const std::string state = JsonString(m.as_object(), "state");
    if (state != "terminated" && state != "failed") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a local pool spawns machines, drains and terminates them", "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), Args(WriteConfig(dir, {})));

  auto r = controller.Call("POST", "/v1/machines", std::nullopt, "{}");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  json::object first = Object(r);
  CHECK(JsonString(first, "state") == "provisioning");
  CHECK(JsonString(first, "pool") == "local");
  CHECK(JsonString(first, "backend") == "local");
  CHECK(JsonString(first, "name") == "local-1");
  const std::string a = JsonString(first, "id");
  const std::string b = controller.SpawnMachine(R"({"pool":"local"})");
  REQUIRE(WaitUntil([&] { return controller.MachineState(a) == "ready"; }, 20s));
  REQUIRE(WaitUntil([&] { return controller.MachineState(b) == "ready"; }, 20s));

  // Each machine is its own agent process with its own data dir, carrying the pool's labels.
  json::object ma = Object(controller.Call("GET", "/v1/machines/" + a));
  CHECK(ma.at("labels").at("pool").as_string() == "local");
  const pid_t pa = PidOf(controller, a), pb = PidOf(controller, b);
  CHECK(pa != pb);
  CHECK(ProcessAlive(pa));
  CHECK(ProcessAlive(pb));
  const std::string dir_a = dir / "controller/machines/local-1";
  CHECK(fs::exists(dir_a + "/agent.toml"));
  CHECK((fs::status(dir_a + "/agent.toml").permissions() & fs::perms::others_read) ==
        fs::perms::none);

  // The pool holds at most max machines.
  auto third = controller.Call("POST", "/v1/machines", std::nullopt, R"({"pool":"local"})");
  REQUIRE(third);
  CHECK(third->status == 409);
  CHECK(third->body.find("max of 2") != std::string::npos);

  // A shell task runs on a spawned machine.
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t = tasks.SubmitShell("demo", {"sh", "-c", "echo spawned"});
  REQUIRE(tasks.WaitState(t, "succeeded"));
  CHECK(tasks.Logs(t).find("spawned") != std::string::npos);

  // Drain: no new tasks; with nothing running the machine is retired at once.
  auto drained = controller.Call("POST", "/v1/machines/" + a + "/drain");
  REQUIRE(drained);
  CHECK(drained->status == 202);
  REQUIRE(WaitUntil([&] { return controller.MachineState(a) == "terminated"; }, 20s));
  CHECK_FALSE(ProcessAlive(pa));
  CHECK_FALSE(fs::exists(dir_a));

  // Terminate by name.
  auto gone = controller.Call("DELETE", "/v1/machines/local-2");
  REQUIRE(gone);
  CHECK(gone->status == 202);
  REQUIRE(WaitUntil([&] { return controller.MachineState(b) == "terminated"; }, 20s));
  CHECK_FALSE(ProcessAlive(pb));
  // Terminating again changes nothing; a terminated machine cannot be drained.
  auto again = controller.Call("DELETE", "/v1/machines/" + b);
  REQUIRE(again);
  CHECK(again->status == 202);
  auto drain_gone = controller.Call("POST", "/v1/machines/" + b + "/drain");
  REQUIRE(drain_gone);
  CHECK(drain_gone->status == 409);

  // With both gone the pool has room again, and names are not reused.
  const std::string c = controller.SpawnMachine(R"({"pool":"local"})");
  CHECK(JsonString(Object(controller.Call("GET", "/v1/machines/" + c)), "name") == "local-3");
  REQUIRE(WaitUntil([&] { return controller.MachineState(c) == "ready"; }, 20s));
}

TEST_CASE("bad machine requests get clear errors and change nothing", "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), Args(WriteConfig(dir, {})));
  const std::pair<std::string, int> bad[] = {
      {R"({"pool":"nope"})", 404},
      {R"({"pool":7})", 400},
      {R"({"flavour":"large"})", 400},
      {"{not json", 400},
      {"[1,2]", 400},
      {R"({"backend":"docker"})", 404},
      {R"({"from_checkpoint":"cp-1"})", 404},
      {R"({"pool":")" + std::string(300, 'x') + R"("})", 400},
  };
  for (const auto& [body, status] : bad) {
    auto r = controller.Call("POST", "/v1/machines", std::nullopt, body);
    REQUIRE(r);
    INFO(body << " -> " << r->body);
    CHECK(r->status == status);
    CHECK(r->body.find("\"error\"") != std::string::npos);
  }
  for (const char* path : {"/v1/machines/m-000000000000", "/v1/machines/../../etc/passwd"}) {
    auto r = controller.Call("DELETE", path);
    REQUIRE(r);
    CHECK(r->status == 404);
  }
  CHECK(controller.Machines().empty());
  // A local machine takes workspace checkpoints only.
  const std::string id = controller.SpawnMachine(R"({"pool":"local"})");
  auto whole = controller.Call("POST", "/v1/machines/" + id + "/checkpoints", std::nullopt,
                               R"({"kind":"machine"})");
  REQUIRE(whole);
  CHECK(whole->status == 400);
  CHECK(whole->body.find("cannot take machine checkpoints") != std::string::npos);
  REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
  REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "terminated"; }, 20s));
  auto pools = controller.GetJson("/v1/pools");
  REQUIRE(pools.at("pools").as_array().size() == 1);
  CHECK(pools.at("pools").at(0).at("machines").to_number<int64_t>() == 0);

  // A controller without pools says how to get one.
  TempDir bare;
  ControllerProcess plain(bare / "controller", nats.url());
  auto r = plain.Call("POST", "/v1/machines", std::nullopt, "{}");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("[[pool]]") != std::string::npos);
}

TEST_CASE("a machine whose agent never registers fails at its boot deadline and is removed",
          "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  // An "agent" that runs but never speaks to the bus.
  const std::string mute = dir / "mute-agent";
  std::ofstream(mute) << "#!/bin/sh\nwhile true; do sleep 1; done\n";
  fs::permissions(mute, fs::perms::owner_all);
  ControllerProcess controller(dir / "controller", nats.url(),
                               Args(WriteConfig(dir, {.boot_timeout = "1s", .agent = mute})));
  const std::string id = controller.SpawnMachine(R"({"pool":"local"})");
  REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "booting"; }, 10s));
  const pid_t pid = PidOf(controller, id);
  CHECK(ProcessAlive(pid));
  REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "failed"; }, 10s));
  REQUIRE(WaitUntil([&] { return !ProcessAlive(pid); }, 15s));
  CHECK(WaitUntil([&] { return !fs::exists(dir / "controller/machines/local-1"); }, 10s));
  // The pool says why, and waits before it tries again.
  auto pools = controller.GetJson("/v1/pools");
  CHECK(
      std::string(pools.at("pools").at(0).at("last_error").as_string()).find("did not register") !=
      std::string::npos);
}

TEST_CASE("the autoscaler grows a pool for queued tasks within max and budget, then shrinks it",
          "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(),
                               Args(WriteConfig(dir, {.min = 0, .max = 2, .idle_timeout = "2s"})));
  TaskClient tasks(controller);
  tasks.CreateProject("frugal");
  tasks.CreateProject("demo");
  // No machine time for frugal: its task must not make the pool grow.
  auto budget =
      controller.Call("PUT", "/v1/projects/frugal/budgets", std::nullopt,
                      R"({"budgets":[{"resource":"machine_seconds","limit":0,"period":"total"}]})");
  REQUIRE(budget);
  INFO(budget->body);
  REQUIRE(budget->status == 200);
  const std::string starved = tasks.SubmitShell("frugal", {"true"});
  // Three tasks that each hold a slot until released; max is 2 machines of one slot.
  // Tasks are boxed: each one's gate lies in its workspace (its working directory), somewhere
  // in the data dir of the machine it runs on.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(tasks.SubmitShell(
        "demo", {"sh", "-c", "while [ ! -e gate ]; do sleep 0.05; done; echo done"}));
  }
  auto open_gates = [&] {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir.path(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && it->path().parent_path().filename() == "workspaces") {
        std::ofstream(it->path() / "gate").put('x');
      }
    }
  };
  REQUIRE(WaitUntil(
      [&] {
        int running = 0;
        for (const auto& t : ids) running += tasks.State(t) == "running";
        return running == 2;
      },
      30s));
  CHECK(LiveMachines(controller) == 2);
  for (const auto& t : ids) {
    REQUIRE(WaitUntil(
        [&] {
          open_gates();
          return tasks.State(t) == "succeeded";
        },
        30s));
  }
  CHECK(tasks.State(starved) != "succeeded");
  CHECK(controller.Machines().size() == 2);  // never more than max, none for frugal

  // Idle past 2s, both machines are retired (min is 0).
  REQUIRE(WaitUntil([&] { return LiveMachines(controller) == 0; }, 20s));
  for (const auto& m : controller.Machines()) {
    CHECK(JsonString(m.as_object(), "state") == "terminated");
  }
}

TEST_CASE("local machines outlive a controller restart and are still managed", "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  const std::string config = WriteConfig(dir, {.min = 1, .max = 1});
  auto controller =
      std::make_unique<ControllerProcess>(dir / "controller", nats.url(), Args(config));
  // min = 1: the pool fills itself.
  REQUIRE(WaitUntil(
      [&] {
        auto ms = controller->Machines();
        return ms.size() == 1 && JsonString(ms[0].as_object(), "state") == "ready";
      },
      20s));
  const std::string id = JsonString(controller->Machines()[0].as_object(), "id");
  const pid_t pid = PidOf(*controller, id);
  const uint16_t port = controller->port();
  controller->Kill();
  CHECK(ProcessAlive(pid));
  controller =
      std::make_unique<ControllerProcess>(dir / "controller", nats.url(), Args(config), port);
  REQUIRE(WaitUntil([&] { return controller->MachineState(id) == "ready"; }, 20s));
  CHECK(controller->Machines().size() == 1);  // the same machine, no second one
  auto r = controller->Call("DELETE", "/v1/machines/" + id);
  REQUIRE(r);
  REQUIRE(WaitUntil([&] { return !ProcessAlive(pid); }, 20s));
  // min = 1 brings a fresh machine.
  REQUIRE(WaitUntil(
      [&] {
        for (const auto& m : controller->Machines()) {
          if (JsonString(m.as_object(), "id") != id &&
              JsonString(m.as_object(), "state") == "ready") {
            return true;
          }
        }
        return false;
      },
      20s));
}

TEST_CASE("a pool machine that dies is given up and replaced", "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(),
                               Args(WriteConfig(dir, {.min = 1, .max = 1, .boot_timeout = "5s"})));
  REQUIRE(WaitUntil(
      [&] {
        auto ms = controller.Machines();
        return ms.size() == 1 && JsonString(ms[0].as_object(), "state") == "ready";
      },
      20s));
  const std::string id = JsonString(controller.Machines()[0].as_object(), "id");
  kill(PidOf(controller, id), SIGKILL);
  // Lost after the heartbeat ttl, given up after the boot timeout, and replaced (max is 1, so
  // the replacement comes only once the dead one is terminated).
  REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "terminated"; }, 30s));
  REQUIRE(WaitUntil(
      [&] {
        for (const auto& m : controller.Machines()) {
          if (JsonString(m.as_object(), "id") != id &&
              JsonString(m.as_object(), "state") == "ready") {
            return true;
          }
        }
        return false;
      },
      20s));
}
