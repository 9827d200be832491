// The docker backend against a real dockerd the test starts (its own data root and socket):
// machines are containers of the agent image this tree builds, with the coding tools in it; they
// run tasks (a real Claude Code task against the fake Anthropic API among them, metered by the
// machine's agent), a machine checkpoint is a committed image, and a new machine cloned from it
// has the first one's disk.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>

#include "controller/provisioners/docker_api.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/support/catch_result.h"
#include "tests/support/docker_daemon.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

int DockerStatus(const DockerDaemon& d, const std::string& target) {
  auto r = DockerApi(d.socket()).Call("GET", target);
  return r ? r->status : 0;
}

bool HasTool(const json::object& machine, std::string_view tool) {
  for (const auto& t : machine.at("tools").as_array()) {
    if (t.as_string() == tool) return true;
  }
  return false;
}

// The ledger's row of one task (GET /v1/usage?group_by=task); empty before its first record.
json::object TaskUsage(ControllerProcess& controller, const std::string& task) {
  const json::value usage = controller.GetJson("/v1/usage?project=demo&group_by=task");
  for (const auto& row : usage.at("rows").as_array()) {
    const json::object& r = row.as_object();
    if (const auto* k = r.if_contains("key");
        k != nullptr && k->is_string() && k->as_string() == task) {
      return r;
    }
  }
  return {};
}

}  // namespace

TEST_CASE("docker machines run tasks, are checkpointed as images and cloned from them",
          "[machines][docker]") {
  if (!DockerAvailable()) {
    WARN("dockerd is not installed or we are not root: skipping (scripts/install-deps.sh)");
    return;
  }
  TempDir dir;
  KillOnExit cleanup(dir.path());
  DockerDaemon docker(dir / "docker");
  docker.BuildAgentImage("autovibe-agent:test");
  // Containers share the host's network: the agents reach the fake provider on loopback.
  FakeAnthropic fake({.write_file = "hello.txt",
                      .content = "hello from a container\n",
                      .final_text = "Created hello.txt."});
  REQUIRE(fake.Start());
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"boxes\"\nbackend = \"docker\"\nmax = 2\n"
                           "boot_timeout = \"60s\"\nlabels = { pool = \"boxes\" }\n"
                           "[pool.docker]\nsocket = \""
                        << docker.socket()
                        << "\"\nimage = \"autovibe-agent:test\"\n"
                           "[pool.agent]\nupstreams = { anthropic = \""
                        << fake.url() << "\" }\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});

  const std::string a = controller.SpawnMachine(R"({"pool":"boxes"})");
  REQUIRE(WaitUntil([&] { return JsonString(controller.Machine(a), "state") == "ready"; }, 60s));
  json::object ma = controller.Machine(a);
  CHECK(JsonString(ma, "backend") == "docker");
  const std::string container = JsonString(ma, "instance");
  CHECK(DockerStatus(docker, "/containers/" + container + "/json") == 200);

  // A task runs inside the container, boxed (its own user), and leaves a file on its disk.
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t = tasks.SubmitShell(
      "demo", {"sh", "-c", "echo from-container-$(hostname) as $(id -u); echo kept > marker"},
      {{"labels", {{"autovibe.machine", a}}}});
  REQUIRE(tasks.WaitState(t, "succeeded", 60s));
  INFO(tasks.Logs(t));
  CHECK(tasks.Logs(t).find("from-container-boxes-1 as 61000") != std::string::npos);
  const std::string marker = "/var/lib/autovibe/agent/workspaces/" + t + "/marker";

  // The image carries the coding tools: the machine offers them, and a real Claude Code task
  // runs in the container, boxed, against the fake provider, through the agent's meter.
  CHECK(HasTool(ma, "claude-code"));
  CHECK(HasTool(ma, "codex"));
  const std::string c = tasks.Submit({{"project", "demo"},
                                      {"tool", "claude-code"},
                                      {"prompt", "Create hello.txt saying hello."},
                                      {"options", {{"max_turns", "5"}}},
                                      {"labels", {{"autovibe.machine", a}}},
                                      {"timeout_s", 120}});
  const bool claude_done = tasks.WaitState(c, "succeeded", 120s);
  INFO("task: " << json::serialize(tasks.Task(c)) << "\nlogs:\n" << tasks.Logs(c));
  REQUIRE(claude_done);
  CHECK(tasks.Task(c).at("report").at("result_subtype").as_string() == "success");
  CHECK(fake.CountAnswers("tool_use") == 1);
  CHECK(DockerStatus(docker, "/containers/" + container + "/archive?path=" +
                                 "/var/lib/autovibe/agent/workspaces/" + c + "/hello.txt") == 200);
  // Every call the fake answered is in the ledger, under the task, with the fake's tokens.
  const UsageTally served = fake.Tally();
  CHECK(served.calls >= 2);
  REQUIRE(WaitUntil(
      [&] {
        const json::object u = TaskUsage(controller, c);
        return !u.empty() && u.at("calls").to_number<int64_t>() == served.calls;
      },
      30s));
  const json::object metered = TaskUsage(controller, c);
  CHECK(metered.at("input_tokens").to_number<int64_t>() == served.input_tokens);
  CHECK(metered.at("cache_write_tokens").to_number<int64_t>() == served.cache_write_tokens);
  CHECK(metered.at("cache_read_tokens").to_number<int64_t>() == served.cache_read_tokens);
  CHECK(metered.at("output_tokens").to_number<int64_t>() == served.output_tokens);

  // A machine checkpoint is an image of the container.
  auto made = controller.Call("POST", "/v1/machines/" + a + "/checkpoints", std::nullopt,
                              R"({"kind":"machine"})");
  REQUIRE(made);
  INFO(made->body);
  REQUIRE(made->status == 201);
  json::object cp = json::parse(made->body).at("checkpoints").at(0).as_object();
  CHECK(JsonString(cp, "kind") == "machine");
  CHECK(JsonString(cp, "state") == "ready");
  const std::string cp_id = JsonString(cp, "id");
  const std::string image = JsonString(cp, "ref");
  CHECK(DockerStatus(docker, "/images/" + image + "/json") == 200);
  // Listed with the workspace checkpoints.
  auto listed = controller.GetJson("/v1/checkpoints?machine=" + a);
  bool found = false;
  for (const auto& c : listed.at("checkpoints").as_array())
    found |= JsonString(c.as_object(), "id") == cp_id;
  CHECK(found);

  // A new machine cloned from it has the first one's disk.
  const std::string b = controller.SpawnMachine(R"({"from_checkpoint":")" + cp_id + R"("})");
  REQUIRE(WaitUntil([&] { return JsonString(controller.Machine(b), "state") == "ready"; }, 60s));
  CHECK(JsonString(controller.Machine(b), "spawned_from") == cp_id);
  // (A boxed task sees only its own workspace: the clone's disk is looked at from outside.)
  const std::string cb = JsonString(controller.Machine(b), "instance");
  CHECK(DockerStatus(docker, "/containers/" + cb + "/archive?path=" + marker) == 200);
  const std::string t2 = tasks.SubmitShell("demo", {"sh", "-c", "echo boxed-on-the-clone"},
                                           {{"labels", {{"autovibe.machine", b}}}});
  REQUIRE(tasks.WaitState(t2, "succeeded", 60s));
  CHECK(tasks.Logs(t2).find("boxed-on-the-clone") != std::string::npos);

  // Terminated machines leave no container behind; the checkpoint's image goes on delete.
  for (const auto& id : {a, b}) {
    const std::string c = JsonString(controller.Machine(id), "instance");
    REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
    REQUIRE(WaitUntil([&] { return JsonString(controller.Machine(id), "state") == "terminated"; },
                      60s));
    CHECK(DockerStatus(docker, "/containers/" + c + "/json") == 404);
  }
  auto deleted = controller.Call("DELETE", "/v1/checkpoints/" + cp_id);
  REQUIRE(deleted);
  CHECK(deleted->status == 200);
  CHECK(DockerStatus(docker, "/images/" + image + "/json") == 404);
  // Gone: nothing can be cloned from it any more.
  auto again = controller.Call("POST", "/v1/machines", std::nullopt,
                               R"({"from_checkpoint":")" + cp_id + R"("})");
  REQUIRE(again);
  CHECK(again->status == 404);
}
