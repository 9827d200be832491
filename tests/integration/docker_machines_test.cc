// The docker backend against a real dockerd the test starts (its own data root and socket):
// machines are containers of the agent image this tree builds, they run tasks, a machine
// checkpoint is a committed image, and a new machine cloned from it has the first one's disk.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>

#include "controller/provisioners/docker_api.h"
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
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"boxes\"\nbackend = \"docker\"\nmax = 2\n"
                           "boot_timeout = \"60s\"\nlabels = { pool = \"boxes\" }\n"
                           "[pool.docker]\nsocket = \""
                        << docker.socket()
                        << "\"\nimage = \"autovibe-agent:test\"\n"
                           "[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
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
