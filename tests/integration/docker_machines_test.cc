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

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

json::object Machine(ControllerProcess& c, const std::string& id) {
  auto r = c.Call("GET", "/v1/machines/" + id);
  if (!r || r->status != 200) return {};
  return json::parse(r->body).as_object();
}

std::string Spawn(ControllerProcess& c, const std::string& body) {
  auto r = c.Call("POST", "/v1/machines", std::nullopt, body);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  return Str(json::parse(r->body).as_object(), "id");
}

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

  const std::string a = Spawn(controller, R"({"pool":"boxes"})");
  REQUIRE(WaitUntil([&] { return Str(Machine(controller, a), "state") == "ready"; }, 60s));
  json::object ma = Machine(controller, a);
  CHECK(Str(ma, "backend") == "docker");
  const std::string container = Str(ma, "instance");
  CHECK(DockerStatus(docker, "/containers/" + container + "/json") == 200);

  // A task runs inside the container and leaves a file on its disk.
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t = tasks.SubmitShell(
      "demo", {"sh", "-c", "echo from-container-$(hostname); echo kept > /root/marker"},
      {{"labels", {{"autovibe.machine", a}}}});
  REQUIRE(tasks.WaitState(t, "succeeded", 60s));
  CHECK(tasks.Logs(t).find("from-container-boxes-1") != std::string::npos);

  // A machine checkpoint is an image of the container.
  auto made = controller.Call("POST", "/v1/machines/" + a + "/checkpoints", std::nullopt,
                              R"({"kind":"machine"})");
  REQUIRE(made);
  INFO(made->body);
  REQUIRE(made->status == 201);
  json::object cp = json::parse(made->body).at("checkpoints").at(0).as_object();
  CHECK(Str(cp, "kind") == "machine");
  CHECK(Str(cp, "state") == "ready");
  const std::string cp_id = Str(cp, "id");
  const std::string image = Str(cp, "ref");
  CHECK(DockerStatus(docker, "/images/" + image + "/json") == 200);
  // Listed with the workspace checkpoints.
  auto listed = controller.GetJson("/v1/checkpoints?machine=" + a);
  bool found = false;
  for (const auto& c : listed.at("checkpoints").as_array())
    found |= Str(c.as_object(), "id") == cp_id;
  CHECK(found);

  // A new machine cloned from it has the first one's disk.
  const std::string b = Spawn(controller, R"({"from_checkpoint":")" + cp_id + R"("})");
  REQUIRE(WaitUntil([&] { return Str(Machine(controller, b), "state") == "ready"; }, 60s));
  CHECK(Str(Machine(controller, b), "spawned_from") == cp_id);
  const std::string t2 = tasks.SubmitShell("demo", {"sh", "-c", "cat /root/marker"},
                                           {{"labels", {{"autovibe.machine", b}}}});
  REQUIRE(tasks.WaitState(t2, "succeeded", 60s));
  CHECK(tasks.Logs(t2).find("kept") != std::string::npos);

  // Terminated machines leave no container behind; the checkpoint's image goes on delete.
  for (const auto& id : {a, b}) {
    const std::string c = Str(Machine(controller, id), "instance");
    REQUIRE(controller.Call("DELETE", "/v1/machines/" + id));
    REQUIRE(WaitUntil([&] { return Str(Machine(controller, id), "state") == "terminated"; }, 60s));
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
