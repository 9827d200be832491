// Garbage on the bus and on the API changes nothing and crashes nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Sends raw bytes to the HTTP port and returns whatever comes back.
std::string RawHttp(uint16_t port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    (void)!write(fd, bytes.data(), bytes.size());
    shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace

TEST_CASE("garbage on av.register and av.hb.* changes nothing") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent("honest", dir / "honest", nats.url());
  REQUIRE(WaitUntil([&] { return controller.MachineByName("honest").has_value(); }, 15s));
  const std::string before = boost::json::serialize(
      controller
          .GetJson("/v1/machines/" +
                   std::string(controller.MachineByName("honest")->at("id").as_string()))
          .at("labels"));

  auto bus = ConnectNats(AdminBus(nats.url()));
  REQUIRE(bus);
  std::mt19937 rng(42);
  int answered_with_error = 0;
  for (int i = 0; i < 200; ++i) {
    std::string junk = RandomBytes(rng, 1 + rng() % 300);
    auto reply = (*bus)->Request("av.register", junk, 2s);
    REQUIRE(reply);  // the controller answers, it does not crash or hang
    v1::RegisterReply r;
    if (r.ParseFromString(*reply) && !r.error().empty() && r.machine_id().empty()) {
      ++answered_with_error;
    }
    REQUIRE((*bus)->Publish("av.hb." + std::to_string(i), junk));
  }
  CHECK(answered_with_error == 200);
  // Oversized messages, a heartbeat naming another machine, and valid protobuf of the wrong type.
  REQUIRE((*bus)->Publish("av.hb.x", std::string(200 * 1024, 'A')));
  v1::Heartbeat spoof;
  spoof.set_machine_id(std::string(controller.MachineByName("honest")->at("id").as_string()));
  spoof.mutable_resources()->set_load1(99);
  REQUIRE((*bus)->Publish("av.hb.m-someoneelse", spoof.SerializeAsString()));
  v1::RegisterRequest wrong_name;
  wrong_name.set_name("bad name with spaces");
  auto refused = (*bus)->Request("av.register", wrong_name.SerializeAsString(), 2s);
  REQUIRE(refused);
  v1::RegisterReply rr;
  REQUIRE(rr.ParseFromString(*refused));
  CHECK(rr.error().find("invalid machine name") != std::string::npos);

  // The rejections are counted; the fleet is exactly as it was.
  REQUIRE(WaitUntil(
      [&] {
        return controller.Metric(
                   "autovibe_bus_messages_rejected_total{what=\"heartbeat\",reason="
                   "\"oversized\"}") == 1 &&
               controller.Metric(
                   "autovibe_bus_messages_rejected_total{what=\"heartbeat\",reason=\"subject_"
                   "mismatch\"}") >= 1;
      },
      10s));
  auto machines = controller.Machines();
  REQUIRE(machines.size() == 1);
  CHECK(machines[0].at("name").as_string() == "honest");
  CHECK(machines[0].at("state").as_string() == "ready");
  CHECK(machines[0].at("resources").at("load1").to_number<double>() < 99);
  CHECK(boost::json::serialize(machines[0].at("labels")) == before);
  CHECK(controller.process().Running());
}

TEST_CASE("the API answers 401 without a valid token and survives malformed requests") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());

  auto no_token = controller.Call("GET", "/v1/machines", "");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(boost::json::parse(no_token->body).at("error").at("code").as_string() == "unauthorized");
  auto bad_token = controller.Call("GET", "/v1/machines", "not-the-token");
  REQUIRE(bad_token);
  CHECK(bad_token->status == 401);

  std::mt19937 rng(7);
  const std::vector<std::string> hostile = {
      "GARBAGE\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
      "POST /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n" +
          std::string(3000000, 'x'),
      "GET /v1/machines/%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(20000, 'z') +
          "\r\n\r\n",
      "GET http://evil/v1/machines HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
      RandomBytes(rng, 5000),
  };
  for (const auto& h : hostile) {
    std::string out = RawHttp(controller.port(), h);
    INFO(out.substr(0, 200));
    CHECK(out.rfind("HTTP/1.1 4", 0) == 0);  // an answer, a 4xx: never silence, 2xx or 5xx
  }
  // Still serving, with the same token.
  auto ok = controller.Call("GET", "/v1/machines");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(controller.process().Running());
  auto health = controller.Call("GET", "/healthz", "");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("garbage and forged agent events change no task") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent("honest", dir / "honest", nats.url());
  REQUIRE(WaitUntil([&] { return controller.MachineByName("honest").has_value(); }, 15s));
  const std::string honest(controller.MachineByName("honest")->at("id").as_string());
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  // The task is boxed: its gate lies in its workspace (its working directory).
  const std::string id = tasks.SubmitShell(
      "demo", {"sh", "-c", "echo started; while [ ! -e gate ]; do sleep 0.02; done"});
  const std::string gate = dir / "honest/workspaces/" + id + "/gate";
  REQUIRE(tasks.WaitState(id, "running"));
  REQUIRE(WaitUntil([&] { return tasks.Logs(id) == "started\n"; }, 10s));

  auto bus = ConnectNats(AdminBus(nats.url()));
  REQUIRE(bus);
  auto finished = [&](const std::string& machine, const std::string& event_id) {
    v1::AgentEvent ev;
    ev.set_event_id(event_id);
    ev.set_machine_id(machine);
    ev.set_at_unix_ns(1);
    ev.mutable_task_finished()->set_task_id(id);
    ev.mutable_task_finished()->set_attempt(1);
    ev.mutable_task_finished()->set_outcome(v1::TASK_OUTCOME_FAILED);
    ev.mutable_task_finished()->set_exit_code(66);
    return ev.SerializeAsString();
  };
  // Not protobuf at all; the honest machine's finish sent on another machine's subject; one
  // without an event id; and a machine that does not hold the task claiming it ended.
  REQUIRE((*bus)->StreamPublish("av.evt." + honest, "\xff\x01 not an event", "junk-1", 2s));
  REQUIRE((*bus)->StreamPublish("av.evt.m-intruder", finished(honest, "forged-1"), "forged-1", 2s));
  REQUIRE((*bus)->StreamPublish("av.evt." + honest, finished(honest, ""), "no-id-1", 2s));
  REQUIRE((*bus)->StreamPublish("av.evt.m-intruder", finished("m-intruder", "forged-2"), "forged-2",
                                2s));
  // The stream is consumed in order: once this one is counted, the claim above was handled.
  REQUIRE((*bus)->StreamPublish("av.evt." + honest, "\xff\x02 marker", "junk-2", 2s));
  auto refused = [&](const std::string& reason) {
    return controller.Metric("autovibe_events_refused_total{kind=\"task_finished\",reason=\"" +
                             reason + "\"}");
  };
  REQUIRE(WaitUntil(
      [&] {
        return controller.Metric(
                   "autovibe_bus_messages_rejected_total{what=\"agent_event\",reason="
                   "\"undecodable\"}") == 2 &&
               refused("subject_mismatch") == 1 && refused("no_event_id") == 1 &&
               refused("not_your_task") == 1;
      },
      10s));
  CHECK(tasks.State(id) == "running");
  CHECK(tasks.Logs(id) == "started\n");
  std::ofstream(gate).put('x');
  REQUIRE(tasks.WaitState(id, "succeeded"));
  auto t = tasks.Task(id);
  CHECK(t.at("exit_code").as_int64() == 0);
  CHECK(t.at("machine_id").as_string() == honest);
  CHECK(controller.process().Running());
}

TEST_CASE("garbage and hostile commands to an agent are answered with errors and run nothing") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent("target", dir / "target", nats.url());
  REQUIRE(WaitUntil([&] { return controller.MachineByName("target").has_value(); }, 15s));
  const std::string subject =
      "av.cmd." + std::string(controller.MachineByName("target")->at("id").as_string());
  auto bus = ConnectNats(AdminBus(nats.url()));
  REQUIRE(bus);
  // The agent listens for commands early, and takes work once its registration is answered
  // (after the controller committed it), a moment after the controller lists the machine:
  // until then a RunTask is answered "unavailable".
  REQUIRE(WaitUntil(
      [&] {
        v1::Command probe;
        probe.set_command_id("c-probe");
        probe.mutable_run_task()->set_task_id("");
        auto r = (*bus)->Request(subject, probe.SerializeAsString(), 1s);
        v1::CommandReply reply;
        return r && reply.ParseFromString(*r) && reply.error_code() != "unavailable";
      },
      10s));
  auto ask = [&](const std::string& data) {
    auto raw = (*bus)->Request(subject, data, 5s);
    REQUIRE(raw);
    v1::CommandReply reply;
    REQUIRE(reply.ParseFromString(*raw));
    return reply;
  };

  v1::CommandReply junk = ask("\xff\xfe definitely not a command");
  CHECK_FALSE(junk.ok());
  CHECK(junk.error() == "undecodable command");

  const std::string escape = dir / "escaped";
  for (const std::string& task_id :
       std::vector<std::string>{"../../escape", "/abs", "", std::string(200, 'x')}) {
    v1::Command cmd;
    cmd.set_command_id("c-hostile");
    v1::RunTask* run = cmd.mutable_run_task();
    run->set_task_id(task_id);
    run->set_project("demo");
    run->set_tool("shell");
    run->add_command("touch");
    run->add_command(escape);
    run->set_attempt(1);
    v1::CommandReply reply = ask(cmd.SerializeAsString());
    INFO("task id: " << task_id);
    CHECK_FALSE(reply.ok());
    CHECK(reply.error_code() == "bad_task");
  }
  // Oversized: dropped and counted by the agent, which answers nothing.
  CHECK_FALSE((*bus)->Request(subject, std::string(2 << 20, 'A'), 500ms));
  CHECK_FALSE(std::filesystem::exists(escape));
  CHECK(!std::filesystem::exists(dir / "escape"));
  CHECK(agent.process().Running());

  // The agent still runs real work.
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string id = tasks.SubmitShell("demo", {"echo", "still here"});
  REQUIRE(tasks.WaitState(id, "succeeded"));
  CHECK(tasks.Logs(id) == "still here\n");
}
