// A fleet on a nats-server that speaks TLS only: controller and agents (bus users, join tokens)
// run a task end to end while the loopback wire is watched, and nothing secret crosses it in
// clear; an agent given the wrong CA is refused, says why, keeps trying and never registers; a
// controller refuses a server whose certificate has expired.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/bus/bus.h"
#include "tests/support/bus_auth.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/loopback_capture.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"
#include "tests/support/test_certs.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kFast = {"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// How often `text` appears in the file at `path`.
size_t CountIn(const std::string& path, const std::string& text) {
  const std::string all = ReadAll(path);
  size_t n = 0;
  for (size_t at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
  return n;
}

// The value of `key = "..."` in a TOML file the agent wrote.
std::string TomlValue(const std::string& path, const std::string& key) {
  std::istringstream in(ReadAll(path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + " = '", 0) == 0 || line.rfind(key + " = \"", 0) == 0) {
      return line.substr(key.size() + 4, line.size() - key.size() - 5);
    }
  }
  return "";
}

// A CA, another, and nats-server's certificate signed by the first.
struct Pki {
  explicit Pki(const std::string& dir)
      : ca(MakeTestCa(dir, "ca")),
        other(MakeTestCa(dir, "other-ca")),
        server(IssueTestCert(ca, dir, "server")) {}
  TestCa ca;
  TestCa other;
  TestCert server;
};

}  // namespace

TEST_CASE("a fleet on a TLS bus runs a task and the wire holds no password, token or prompt",
          "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  const std::string prompt = "prompt-7f3a-the-task-says-this";

  // The control: on a plain bus the capture reads the password and a message in clear.
  {
    NatsServer plain(dir / "plain");
    LoopbackCapture wire(plain.port());
    if (!wire.ok()) {
      WARN("skipped: no AF_PACKET socket on lo here (needs root or CAP_NET_RAW)");
      return;
    }
    auto bus = ConnectNats(AdminBus(plain.url()));
    REQUIRE(bus);
    REQUIRE((*bus)->Publish("t.clear", prompt));
    (void)(*bus)->Request("t.nobody", "x", 200ms);  // a round trip: the publish is out
    REQUIRE(WaitUntil([&] { return wire.Saw(prompt); }, 5s));
    CHECK(wire.Saw(plain.users()->controller_password));
  }

  NatsServer nats(dir / "nats", NatsTls{pki.server.cert, pki.server.key, pki.ca.cert});
  LoopbackCapture wire(nats.port());
  REQUIRE(wire.ok());
  ControllerProcess controller(dir / "controller", nats.url(), kFast);
  const std::string token = NewJoinToken(nats.url());
  AgentProcess agent("agent-1", dir / "agent-1", nats.url(), {"--join-token", token});
  REQUIRE(WaitUntil(
      [&] {
        auto m = controller.MachineByName("agent-1");
        return m && m->at("state").as_string() == "ready" && agent.HoldsMachineId();
      },
      30s));
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string id = tasks.SubmitShell("demo", {"sh", "-c", "echo " + prompt + " | rev"});
  REQUIRE(tasks.WaitState(id, "succeeded"));
  std::string reversed(prompt.rbegin(), prompt.rend());
  CHECK_THAT(tasks.Logs(id), Catch::Contains(reversed));

  const std::string machine_password = TomlValue(dir / "agent-1/bus-user.toml", "nats_password");
  REQUIRE(machine_password.size() >= 16);
  CHECK(wire.Bytes() > 2000);  // the capture saw the fleet's traffic, encrypted
  CHECK_FALSE(wire.Saw(nats.users()->controller_password));
  CHECK_FALSE(wire.Saw(machine_password));
  CHECK_FALSE(wire.Saw(token.substr(token.find('.') + 1)));
  CHECK_FALSE(wire.Saw(prompt));
  CHECK_FALSE(wire.Saw(reversed));
  CHECK_FALSE(wire.Saw("CONNECT {"));
}

TEST_CASE("an agent given the wrong CA is refused, says why, keeps trying and never registers",
          "[tls]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  Pki pki(dir / "pki");
  NatsServer nats(dir / "nats", NatsTls{pki.server.cert, pki.server.key, pki.ca.cert});
  ControllerProcess controller(dir / "controller", nats.url(), kFast);
  AgentProcess good("good", dir / "good", nats.url());
  AgentProcess bad("bad", dir / "bad", nats.url(), {"--nats-ca", pki.other.cert});

  REQUIRE(WaitUntil([&] { return controller.MachineState("good") == "ready"; }, 30s));
  // The join flow: refused at every try, saying which CA does not sign the server.
  const std::string why = "not signed by the CA in " + pki.other.cert;
  REQUIRE(WaitUntil([&] { return CountIn(dir / "bad.log", why) >= 2; }, 20s));
  CHECK(CountIn(dir / "bad.log", "retrying") >= 2);
  CHECK(bad.process().Running());
  CHECK_FALSE(controller.MachineByName("bad"));
  CHECK_FALSE(std::filesystem::exists(dir / "bad/bus-user.toml"));

  // An agent that holds a bus user of its own, restarted with the wrong CA, waits the same way.
  good.Kill();
  AgentProcess again("good", dir / "good", nats.url(), {"--nats-ca", pki.other.cert});
  REQUIRE(WaitUntil([&] { return CountIn(dir / "good.log", why) >= 1; }, 20s));
  CHECK_THAT(ReadAll(dir / "good.log"), Catch::Contains("the bus refuses this client's TLS check"));
  CHECK(again.process().Running());
  REQUIRE(WaitUntil([&] { return controller.MachineState("good") == "lost"; }, 10s));
}

TEST_CASE("the controller refuses a bus whose certificate has expired, saying so", "[tls]") {
  TempDir dir;
  Pki pki(dir / "pki");
  auto expired = IssueTestCert(pki.ca, dir / "pki", "expired", "IP:127.0.0.1", -1);
  NatsServer nats(dir / "nats", NatsTls{expired.cert, expired.key, pki.ca.cert});
  std::vector<std::string> argv = {BinPath("autovibe-controller"),
                                   "--data-dir",
                                   dir / "controller",
                                   "--nats",
                                   nats.url(),
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(FreePort())};
  for (auto& a : ControllerBusArgs(nats.url())) argv.push_back(a);
  ChildProcess p(argv, dir / "controller.log");
  CHECK(p.Wait(20s) == 1);
  CHECK_THAT(p.Log(), Catch::Contains("certificate has expired"));
}
