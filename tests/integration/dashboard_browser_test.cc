// The dashboard in a real browser: Debian's Chromium, driven by playwright-core
// (tests/browser/dashboard.mjs), against a real nats-server, controller and two agents. Each
// scenario saves screenshots under build/test-artifacts/dashboard/; this side sets up what a
// scenario needs and checks the fleet's side of its outcome (tasks cancelled, processes gone).
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/core/files.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kShots = std::string(AV_BIN_DIR) + "/../test-artifacts/dashboard";
const std::string kScript = std::string(AV_SOURCE_DIR) + "/tests/browser/dashboard.mjs";

// Processes whose command line contains `needle` (arguments joined by spaces).
int ProcessesWith(const std::string& needle) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cmd = ss.str();
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

struct DashboardFleet {
  TempDir dir{"av-dash"};
  NatsServer nats{dir / "nats"};
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent1, agent2;
  std::unique_ptr<TaskClient> tasks;

  DashboardFleet() {
    REQUIRE(fs::exists("/usr/bin/chromium"));
    INFO("run scripts/install-deps.sh: it installs chromium and the dashboard's npm packages");
    REQUIRE(fs::exists(std::string(AV_SOURCE_DIR) +
                       "/controller/dashboard/web/node_modules/playwright-core"));
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--heartbeat-interval", "200ms", "--heartbeat-ttl", "3s"});
    agent1 = std::make_unique<AgentProcess>("agent-1", dir / "agent-1", nats.url());
    agent2 = std::make_unique<AgentProcess>("agent-2", dir / "agent-2", nats.url());
    tasks = std::make_unique<TaskClient>(*controller);
    const bool ready = WaitUntil(
        [&] {
          for (const char* name : {"agent-1", "agent-2"}) {
            if (controller->MachineState(name) != "ready") return false;
          }
          return true;
        },
        60s);
    if (!ready) FAIL("the agents are not ready after 60 s; logs:\n" << LogTails(dir.path()));
  }

  std::string MakeToken(const std::string& name, const std::string& role,
                        const std::string& project = "") {
    boost::json::object body{{"name", name}, {"role", role}};
    if (!project.empty()) body["projects"] = boost::json::array{boost::json::value(project)};
    auto r = controller->CallJson("POST", "/v1/tokens", body);
    REQUIRE(r);
    return std::string(r->at("token").as_string());
  }

  // Runs one scenario of tests/browser/dashboard.mjs with `env` added; its output.
  std::string Browse(const std::string& scenario, std::map<std::string, std::string> env = {}) {
    env["AV_URL"] = controller->base_url();
    env["AV_TOKEN"] = controller->token();
    env["AV_SHOTS"] = kShots;
    std::vector<std::string> argv{"/usr/bin/env"};
    for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
    argv.insert(argv.end(), {"node", kScript, scenario});
    const std::string log = dir / ("browser-" + scenario + ".log");
    ChildProcess browser(argv, log);
    const int code = browser.Wait(150s);
    const std::string out = browser.Log();
    INFO(out);
    INFO("controller and agents:\n" << LogTails(dir.path()));
    REQUIRE(code == 0);
    return out;
  }
};

}  // namespace

TEST_CASE("dashboard: a wrong token is refused, and signed in the fleet's two machines show",
          "[dashboard][browser]") {
  DashboardFleet f;
  const std::string out = f.Browse("sign_in");
  CHECK(fs::exists(kShots + "/sign_in-fleet.png"));
  CHECK(out.find("\"passed\":true") != std::string::npos);
}

TEST_CASE("dashboard: a task submitted in the browser streams its log in", "[dashboard][browser]") {
  DashboardFleet f;
  f.tasks->CreateProject("web");
  const std::string out = f.Browse("task_log", {{"AV_PROJECT", "web"}});
  const size_t at = out.find("{\"task\":\"");
  REQUIRE(at != std::string::npos);
  const std::string id = out.substr(at + 9, out.find('"', at + 9) - at - 9);
  CHECK(f.tasks->State(id) == "succeeded");
  CHECK(f.tasks->Logs(id).find("line-6") != std::string::npos);
}

TEST_CASE("dashboard: the emergency stop stops every task of the project and ends its tools",
          "[dashboard][browser]") {
  DashboardFleet f;
  f.tasks->CreateProject("burn");
  f.tasks->CreateProject("calm");
  // Sleeps long and odd enough to be found by their command lines alone. The other project's
  // task takes one machine, the first of "burn" the other; the second of "burn" waits queued.
  const std::string marker = "sleep 3187";
  const std::string calm = f.tasks->SubmitShell("calm", {"sh", "-c", "sleep 3188"});
  REQUIRE(f.tasks->WaitState(calm, "running", 30s));
  std::vector<std::string> burning{f.tasks->SubmitShell("burn", {"sh", "-c", marker})};
  REQUIRE(f.tasks->WaitState(burning[0], "running", 30s));
  burning.push_back(f.tasks->SubmitShell("burn", {"sh", "-c", marker}));
  REQUIRE(f.tasks->State(burning[1]) == "queued");
  REQUIRE(ProcessesWith(marker) >= 1);

  f.Browse("emergency_stop", {{"AV_PROJECT", "burn"}});

  for (const auto& id : burning) CHECK(f.tasks->WaitState(id, "paused", 20s));
  CHECK(WaitUntil([&] { return ProcessesWith(marker) == 0; }, 20s));
  // The other project runs on.
  CHECK(f.tasks->State(calm) == "running");
  f.tasks->Cancel(calm);
}

TEST_CASE("dashboard: a checkpoint tree shows parent to child, and a node is restored",
          "[dashboard][browser]") {
  DashboardFleet f;
  f.tasks->CreateProject("trees");
  const std::string first = f.tasks->SubmitShell("trees", {"sh", "-c", "echo one > a.txt"});
  REQUIRE(f.tasks->WaitState(first, "succeeded", 60s));
  std::string parent;
  REQUIRE(WaitUntil(
      [&] {
        auto list = f.controller->GetJson("/v1/checkpoints?task=" + first);
        if (list.at("checkpoints").as_array().empty()) return false;
        parent = std::string(list.at("checkpoints").at(0).at("id").as_string());
        return true;
      },
      20s));
  const std::string second = f.tasks->SubmitShell("trees", {"sh", "-c", "echo two > b.txt"},
                                                  boost::json::object{{"from_checkpoint", parent}});
  REQUIRE(f.tasks->WaitState(second, "succeeded", 60s));
  std::string child;
  REQUIRE(WaitUntil(
      [&] {
        const auto list = f.controller->GetJson("/v1/checkpoints?task=" + second);
        for (const auto& c : list.at("checkpoints").as_array()) {
          if (JsonString(c.as_object(), "parent") == parent) {
            child = JsonString(c.as_object(), "id");
            return true;
          }
        }
        return false;
      },
      20s));
  f.Browse("checkpoint_restore", {{"AV_CHECKPOINT", child}, {"AV_PARENT", parent}});
}

TEST_CASE("dashboard: an event arrives live", "[dashboard][browser]") {
  DashboardFleet f;
  f.tasks->CreateProject("live");
  f.Browse("live_event", {{"AV_PROJECT", "live"}});
}

TEST_CASE("dashboard: a viewer sees no actions, and a scoped token sees its project, not the fleet",
          "[dashboard][browser]") {
  DashboardFleet f;
  f.tasks->CreateProject("alpha");
  f.tasks->CreateProject("beta");
  f.Browse("roles", {{"AV_PROJECT", "alpha"},
                     {"AV_VIEWER_TOKEN", f.MakeToken("watcher", "viewer")},
                     {"AV_SCOPED_TOKEN", f.MakeToken("beta-op", "operator", "beta")},
                     {"AV_SCOPED_PROJECT", "beta"}});
}
