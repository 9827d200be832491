// A real nats-server, controller and agents: the fleet sees itself, survives crashes and
// restarts, and ignores garbage.
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

std::string StateOf(ControllerProcess& c, const std::string& name) {
  auto m = c.MachineByName(name);
  return m ? std::string(m->at("state").as_string()) : "";
}

bool AllReady(ControllerProcess& c, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (StateOf(c, n) != "ready") return false;
  }
  return true;
}

const std::vector<std::string> kFastHeartbeats = {"--heartbeat-interval", "200ms",
                                                  "--heartbeat-ttl", "2s"};

}  // namespace

TEST_CASE("two agents become ready with their real resources") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), kFastHeartbeats);
  AgentProcess a("alpha", dir / "alpha", nats.url(),
                 {"--label", "pool=local", "--label", "gpu=no"});
  AgentProcess b("beta", dir / "beta", nats.url());

  REQUIRE(WaitUntil([&] { return AllReady(controller, {"alpha", "beta"}); }, 60s));

  auto alpha = *controller.MachineByName("alpha");
  const auto& res = alpha.at("resources").as_object();
  CHECK(res.at("cpu_cores").to_number<int64_t>() >= 1);
  CHECK(res.at("mem_total_bytes").to_number<int64_t>() > (int64_t{64} << 20));
  CHECK(res.at("mem_used_bytes").to_number<int64_t>() > 0);
  CHECK(res.at("disk_total_bytes").to_number<int64_t>() >=
        res.at("disk_free_bytes").to_number<int64_t>());
  CHECK(res.at("disk_free_bytes").to_number<int64_t>() > 0);
  CHECK(alpha.at("labels").at("pool").as_string() == "local");
  CHECK(alpha.at("labels").at("gpu").as_string() == "no");
  bool has_shell = false;
  for (auto& t : alpha.at("tools").as_array()) has_shell |= t.as_string() == "shell";
  CHECK(has_shell);
  CHECK(alpha.at("id").as_string().starts_with("m-"));
  CHECK(alpha.at("agent_version").as_string().size() > 0);
  CHECK(alpha.at("last_heartbeat_at").as_string().size() > 0);

  // The single-machine endpoint shows the same machine.
  std::string id(alpha.at("id").as_string());
  auto one = controller.GetJson("/v1/machines/" + id);
  CHECK(one.at("name").as_string() == "alpha");

  // Heartbeats keep arriving, and the metrics say so.
  REQUIRE(
      WaitUntil([&] { return controller.Metric("autovibe_heartbeats_received_total") >= 4; }, 10s));
  CHECK(controller.Metric("autovibe_machines{state=\"ready\"}") == 2);
}

TEST_CASE("an agent killed with SIGKILL is lost within the ttl plus one second") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), kFastHeartbeats);
  AgentProcess a("victim", dir / "victim", nats.url());
  AgentProcess b("survivor", dir / "survivor", nats.url());
  REQUIRE(WaitUntil([&] { return AllReady(controller, {"victim", "survivor"}); }, 60s));

  a.process().Signal(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(WaitUntil([&] { return StateOf(controller, "victim") == "lost"; }, 5s, 10ms));
  auto took = std::chrono::steady_clock::now() - killed_at;
  CHECK(took <= 2s + 1s);
  CHECK(StateOf(controller, "survivor") == "ready");

  // It comes back under the same name: same id, ready again.
  std::string id_before(controller.MachineByName("victim")->at("id").as_string());
  a.Start();
  REQUIRE(WaitUntil([&] { return StateOf(controller, "victim") == "ready"; }, 10s));
  CHECK(controller.MachineByName("victim")->at("id").as_string() == id_before);
}

TEST_CASE("a controller killed and restarted keeps every machine and ids") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  auto controller =
      std::make_unique<ControllerProcess>(dir / "controller", nats.url(), kFastHeartbeats);
  const uint16_t port = controller->port();
  AgentProcess live("live", dir / "live", nats.url());
  AgentProcess gone("gone", dir / "gone", nats.url());
  REQUIRE(WaitUntil([&] { return AllReady(*controller, {"live", "gone"}); }, 60s));
  std::string live_id(controller->MachineByName("live")->at("id").as_string());
  std::string gone_id(controller->MachineByName("gone")->at("id").as_string());
  REQUIRE(WaitUntil([&] { return live.HoldsMachineId() && gone.HoldsMachineId(); }, 5s));

  controller->process().Signal(SIGKILL);
  REQUIRE(controller->process().Wait(5s) >= 0);
  gone.Kill();
  controller =
      std::make_unique<ControllerProcess>(dir / "controller", nats.url(), kFastHeartbeats, port);

  // Both machines are still known, with the same ids.
  auto machines = controller->Machines();
  REQUIRE(machines.size() == 2);
  CHECK(controller->MachineByName("live")->at("id").as_string() == live_id);
  CHECK(controller->MachineByName("gone")->at("id").as_string() == gone_id);
  // The live agent keeps heartbeating and stays ready; the dead one is declared lost.
  REQUIRE(WaitUntil([&] { return StateOf(*controller, "gone") == "lost"; }, 6s));
  CHECK(StateOf(*controller, "live") == "ready");
  CHECK(controller->MachineByName("live")->at("id").as_string() == live_id);
}

TEST_CASE("agents and controller survive a nats-server restart") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), kFastHeartbeats);
  AgentProcess a("steady", dir / "steady", nats.url());
  REQUIRE(WaitUntil([&] { return AllReady(controller, {"steady"}); }, 60s));
  std::string id(controller.MachineByName("steady")->at("id").as_string());

  // Down longer than the ttl: the controller heard nothing, but neither did it hear silence,
  // so the machine is not declared lost; heartbeats resume when the bus is back.
  nats.Kill();
  CHECK_FALSE(WaitUntil([&] { return StateOf(controller, "steady") != "ready"; }, 3s));
  nats.Start();
  CHECK(controller.MachineByName("steady")->at("id").as_string() == id);
  double beats = controller.Metric("autovibe_heartbeats_received_total");
  REQUIRE(WaitUntil(
      [&] { return controller.Metric("autovibe_heartbeats_received_total") > beats + 2; }, 10s));
  CHECK(StateOf(controller, "steady") == "ready");
}

TEST_CASE("a controller that lost its database gets its agents back by itself") {
  TempDir dir;
  // The database holds the machines' bus users: a controller that lost it has none to give
  // the server, so its agents come back only on an open bus (on a bus with users they need
  // new join tokens).
  NatsServer nats(dir / "nats", InsecureBus{"the bus users went with the lost database"});
  auto controller =
      std::make_unique<ControllerProcess>(dir / "controller", nats.url(), kFastHeartbeats);
  AgentProcess a("phoenix", dir / "phoenix", nats.url());
  REQUIRE(WaitUntil([&] { return AllReady(*controller, {"phoenix"}); }, 60s));
  const std::string phoenix_id(controller->MachineByName("phoenix")->at("id").as_string());
  REQUIRE(WaitUntil([&] { return a.HoldsMachineId(); }, 5s));
  controller->process().Signal(SIGKILL);
  REQUIRE(controller->process().Wait(5s) >= 0);
  std::filesystem::remove_all(dir / "controller");
  controller =
      std::make_unique<ControllerProcess>(dir / "controller-new", nats.url(), kFastHeartbeats);
  // The agent's heartbeats name an id the new controller never saw; it is asked to register.
  REQUIRE(WaitUntil([&] { return AllReady(*controller, {"phoenix"}); }, 10s));
  CHECK(controller->MachineByName("phoenix")->at("id").as_string() == phoenix_id);
}

TEST_CASE("the controller writes a private admin token and both daemons stop cleanly on SIGTERM") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url(), kFastHeartbeats);
  AgentProcess a("polite", dir / "polite", nats.url());
  REQUIRE(WaitUntil([&] { return AllReady(controller, {"polite"}); }, 60s));

  struct stat st {};
  REQUIRE(stat((dir / "controller/admin.token").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(controller.token().size() >= 32);

  a.process().Signal(SIGTERM);
  CHECK(a.process().Wait(5s) == 0);
  controller.process().Signal(SIGTERM);
  CHECK(controller.process().Wait(5s) == 0);
  CHECK(controller.process().Log().find("controller stopped") != std::string::npos);
}
