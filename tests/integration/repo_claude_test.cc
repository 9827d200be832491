// The main job end to end (issue 18, section 4): a repository with a failing test served from
// a real git server on loopback (git daemon), a project pointing at it with a $1.00 budget and
// publish pr behind a review gate, three real Claude Code tasks on two machines against the
// fake Anthropic API (scripted to fix the file), one machine killed with -9 mid-task; approve
// one (branch pushed, pull request at the fake forge), reject another (nothing pushed), fetch
// the approved change into a fresh clone where the test then passes.
#include <signal.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/run_program.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_forge.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"
#include "tests/support/shell.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string Str(const json::value& v) { return std::string(v.as_string()); }

constexpr const char* kFixed = "add() { echo $(($1 + $2)); }\n";

}  // namespace

TEST_CASE(
    "three Claude Code tasks fix a repository's test on two machines, one killed "
    "mid-task, approved changes reach the repository and the forge, rejected ones do not",
    "[claude]") {
  TempDir dir;
  // The repository, served by git daemon on loopback (receive-pack on, for the pushes).
  const std::string served = dir / "served";
  fs::create_directories(served);
  Sh("set -e; cd " + dir.path() +
     " && git init -q -b main work && cd work && git config user.email dev@example.org && "
     "git config user.name Dev && printf 'add() { echo $(($1 - $2)); }\\n' > calc.sh && "
     "printf '. ./calc.sh; [ \"$(add 2 3)\" = 5 ] && echo PASS || { echo FAIL; exit 1; }\\n' > "
     "test.sh && git add . && git commit -qm 'calc with a failing test' && git clone -q --bare . " +
     served + "/acme/calc.git && git --git-dir=" + served +
     "/acme/calc.git config daemon.receivepack true");
  CHECK(Sh("cd " + std::string(dir / "work") + " && sh test.sh || true") == "FAIL");
  const uint16_t git_port = FreePort();
  ChildProcess daemon(
      {"git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
       "--listen=127.0.0.1", "--port=" + std::to_string(git_port), "--base-path=" + served, served},
      dir / "git-daemon.log");
  const std::string url = "git://127.0.0.1:" + std::to_string(git_port) + "/acme/calc.git";
  REQUIRE(WaitUntil(
      [&] {
        return RunProgram({.argv = {"git", "ls-remote", url}}).has_value();
      },
      10s));

  FakeAnthropic fake({.write_file = "calc.sh",
                      .content = kFixed,
                      .final_text = "Fixed add() in calc.sh; test.sh passes.",
                      .read_first = true,
                      .run_command = "sh test.sh",
                      .pacing = {.answer_delay = 1500ms}});
  REQUIRE(fake.Start());
  FakeForge forge(FakeForgeOptions{.tokens = {"forge-tok-e2e"}, .repos = {"acme/calc"}});
  REQUIRE(forge.Start());

  NatsServer nats{dir / "nats"};
  ControllerProcess controller{
      dir / "controller", nats.url(), {"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"}};
  TaskClient tasks{controller};
  std::map<std::string, std::unique_ptr<AgentProcess>> agents;
  fs::create_directories(dir / "home");
  for (const std::string name : {"agent-1", "agent-2"}) {
    agents[name] = std::make_unique<AgentProcess>(
        name, dir / name, nats.url(),
        std::vector<std::string>{"--upstream", "anthropic=" + fake.url(), "--task-slots", "2",
                                 "--checkpoint-every", "200ms"},
        std::map<std::string, std::string>{{"HOME", dir / "home"},
                                           {"ANTHROPIC_API_KEY", "sk-ant-e2e"}});
  }
  REQUIRE(WaitUntil(
      [&] {
        for (auto& [name, a] : agents) {
          auto m = controller.MachineByName(name);
          if (!m || m->at("state").as_string() != "ready" || !a->HoldsMachineId()) return false;
        }
        return true;
      },
      60s));
  REQUIRE(
      controller.CallJson("PUT", "/v1/secrets/forge", json::object{{"value", "forge-tok-e2e"}}));
  tasks.CreateProject("demo");
  REQUIRE(controller.CallJson("PATCH", "/v1/projects/demo",
                              json::object{{"repo", json::object{{"url", url},
                                                                 {"ref", "main"},
                                                                 {"publish", "pr"},
                                                                 {"review", true},
                                                                 {"forge_api", forge.url()},
                                                                 {"forge_secret", "forge"}}}}));
  REQUIRE(controller.CallJson(
      "PUT", "/v1/projects/demo/budgets",
      json::object{
          {"budgets", json::array{json::object{{"resource", "usd"}, {"limit", "1.00"}}}}}));

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(
        tasks.Submit({{"project", "demo"},
                      {"tool", "claude-code"},
                      {"title", "Fix add() so test.sh passes"},
                      {"prompt", "test.sh fails: fix add() in calc.sh, then run sh test.sh"},
                      {"options", {{"max_turns", "6"}}},
                      {"timeout_s", 180}}));
  }
  // The third's machine dies with -9 while its tool runs.
  REQUIRE(tasks.WaitState(ids[2], "running", 60s));
  const std::string victim_id = Str(tasks.Task(ids[2]).at("machine_id"));
  std::string victim;
  for (auto& [name, a] : agents) {
    if (Str(controller.Machine(name).at("id")) == victim_id) victim = name;
  }
  REQUIRE(!victim.empty());
  agents[victim]->process().Signal(SIGKILL);
  const std::string survivor = victim == "agent-1" ? "agent-2" : "agent-1";

  for (const std::string& id : ids) {
    const bool reviewed = tasks.WaitState(id, "awaiting_review", 240s);
    INFO("task " << id << ": " << json::serialize(tasks.Task(id)) << "\nlogs:\n" << tasks.Logs(id));
    REQUIRE(reviewed);
  }
  // The third went on on the other machine, from its checkpoint or afresh, and still ends with
  // its branch.
  auto third = tasks.Task(ids[2]);
  CHECK(third.at("attempts").as_int64() >= 2);
  CHECK(Str(third.at("machine_id")) == Str(controller.Machine(survivor).at("id")));
  for (const std::string& id : ids) {
    REQUIRE(WaitUntil(
        [&] {
          auto c = tasks.Task(id).at("change").as_object();
          return c.at("stored").as_bool();
        },
        30s));
    auto diff = controller.Call("GET", "/v1/tasks/" + id + "/diff");
    REQUIRE(diff);
    CHECK(diff->body.find("+add() { echo $(($1 + $2)); }") != std::string::npos);
  }
  // Nothing reached the repository before a review.
  CHECK(Sh("git --git-dir=" + served + "/acme/calc.git branch --list 'autovibe/*'").empty());

  REQUIRE(controller.Call("POST", "/v1/tasks/" + ids[0] + "/approve")->status == 200);
  REQUIRE(controller
              .Call("POST", "/v1/tasks/" + ids[1] + "/reject", std::nullopt,
                    R"({"reason":"one fix is enough"})")
              ->status == 200);
  REQUIRE(
      WaitUntil([&] { return Str(tasks.Task(ids[0]).at("change").at("published")) == "pr"; }, 60s));
  const auto change = tasks.Task(ids[0]).at("change").as_object();
  CHECK(Sh("git --git-dir=" + served + "/acme/calc.git rev-parse autovibe/" + ids[0]) ==
        Str(change.at("head")));
  CHECK(Sh("git --git-dir=" + served + "/acme/calc.git branch --list autovibe/" + ids[1]).empty());
  auto prs = forge.PullRequests();
  REQUIRE(prs.size() == 1);
  CHECK(prs[0].head == "autovibe/" + ids[0]);
  CHECK(prs[0].base == "main");

  // The approved change, fetched into a fresh clone, makes the test pass there.
  auto bundle = controller.Call("GET", "/v1/tasks/" + ids[0] + "/bundle");
  REQUIRE(bundle);
  REQUIRE(bundle->status == 200);
  std::ofstream(dir / "fix.bundle", std::ios::binary) << bundle->body;
  const std::string clone = dir / "clone";
  Sh("git clone -q " + url + " " + clone + " && cd " + clone + " && git fetch -q " +
     std::string(dir / "fix.bundle") + " refs/heads/autovibe/" + ids[0] +
     ":refs/heads/fix && git checkout -q fix");
  CHECK(Sh("cd " + clone + " && sh test.sh") == "PASS");

  // Spent within the budget, as the ledger counts it.
  auto usage = controller.GetJson("/v1/projects/demo/usage");
  INFO(json::serialize(usage));
  const json::object& usd = usage.at("budgets").as_array().at(0).as_object();
  CHECK(Str(usd.at("resource")) == "usd");
  const double spent = std::stod(Str(usd.at("spent")));
  CHECK(spent > 0);
  CHECK(spent <= 1.00);
}
