// A claude-code task through the whole fleet: submitted to a real controller, placed on a real
// agent, run by the real Claude Code CLI against the fake Anthropic API (tests/fakes), with the
// result read back through the API as a user would.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fakes/fake_anthropic.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasTool(const json::object& machine, std::string_view tool) {
  for (const auto& t : machine.at("tools").as_array()) {
    if (t.as_string() == tool) return true;
  }
  return false;
}

struct ClaudeFleet {
  FakeAnthropic fake;
  TempDir dir;
  NatsServer nats{dir / "nats"};
  ControllerProcess controller{dir / "controller", nats.url()};
  std::unique_ptr<AgentProcess> agent;
  TaskClient tasks{controller};

  explicit ClaudeFleet(FakeAnthropicScript script) : fake(std::move(script)) {
    REQUIRE(fake.Start());
    std::filesystem::create_directories(dir / "home");
    // The agent hands its upstream and key to the tool; HOME keeps Claude Code's own files
    // (~/.claude) out of the home of whoever runs the tests.
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(),
        std::vector<std::string>{"--upstream", "anthropic=" + fake.url()},
        std::map<std::string, std::string>{{"HOME", dir / "home"},
                                           {"ANTHROPIC_API_KEY", "sk-ant-test-key"}});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller.MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready";
        },
        15s));
    auto m = controller.MachineByName("agent-1");
    if (!HasTool(*m, "claude-code")) {
      FAIL("the agent reports no claude-code tool: is `claude` on PATH? (scripts/install-deps.sh)");
    }
    tasks.CreateProject("demo");
  }

  std::string Submit(const std::string& prompt, const std::string& max_turns) {
    return tasks.Submit({{"project", "demo"},
                         {"tool", "claude-code"},
                         {"prompt", prompt},
                         {"options", {{"max_turns", max_turns}}},
                         {"timeout_s", 120}});
  }
};

}  // namespace

TEST_CASE("a claude-code task writes its file in the workspace and records turns and cost",
          "[claude]") {
  ClaudeFleet f({.write_file = "hello.txt",
                 .content = "hello from a fleet\n",
                 .final_text = "Created hello.txt."});
  const std::string id = f.Submit("Create hello.txt saying hello.", "5");
  const bool done = f.tasks.WaitState(id, "succeeded", 90s);
  INFO("task: " << json::serialize(f.tasks.Task(id)) << "\nlogs:\n" << f.tasks.Logs(id));
  REQUIRE(done);

  const std::string workspace = f.dir / "agent-1/workspaces/" + id;
  CHECK(ReadFile(workspace + "/hello.txt") == "hello from a fleet\n");

  const json::object t = f.tasks.Task(id);
  CHECK(t.at("exit_code").as_int64() == 0);
  CHECK(t.at("attempts").as_int64() == 1);
  const json::object& report = t.at("report").as_object();
  CHECK(report.at("result_subtype").as_string() == "success");
  CHECK(report.at("turns").as_int64() >= 2);
  CHECK(report.at("session_id").as_string().size() >= 8);
  // Claude Code prices the fake's usage figures itself; a positive figure came through.
  CHECK(std::stod(std::string(report.at("reported_cost_usd").as_string())) > 0);
  CHECK(f.fake.CountAnswers("tool_use") == 1);
  CHECK(f.fake.CountAnswers("final_text") == 1);
  // The transcript is the task's log.
  CHECK_THAT(f.tasks.Logs(id), Catch::Contains("\"type\":\"result\""));
}

TEST_CASE("a claude-code task that runs out of turns fails and says why", "[claude]") {
  ClaudeFleet f({});
  const std::string id = f.Submit("Create hello.txt saying hello.", "1");
  REQUIRE(f.tasks.WaitState(id, "failed", 90s));
  const json::object t = f.tasks.Task(id);
  CHECK(t.at("reason").as_string() == "claude-code stopped after reaching max turns (1)");
  CHECK(t.at("report").at("result_subtype").as_string() == "error_max_turns");
  CHECK(t.at("attempts").as_int64() == 1);  // a verdict on the work, not a machine fault
}
