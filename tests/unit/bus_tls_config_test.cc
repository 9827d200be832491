// The settings of TLS to nats-server: the agent's and the controller's keys and flags, the CA
// a controller hands to the agents it provisions (inline in their config, and in cloud-init's
// user data), and what a bad setting says before anything connects.
#include <toml++/toml.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/bus/bus.h"
#include "controller/config.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/cloud_init.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/support/user_data.h"
#include "worker-agent/agent_config.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

const std::string kCa = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

template <class Parse>
auto ParseArgs(Parse parse, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("the agent reads its bus CA and client certificate from TOML, and flags win") {
  AgentConfig c;
  REQUIRE(LoadAgentConfigToml(R"(
nats = "tls://bus.example.org:4222"
nats_ca = "/etc/autovibe/nats-ca.pem"
nats_cert = "/etc/autovibe/client.pem"
nats_key = "/etc/autovibe/client.key"
)",
                              c));
  CHECK(c.nats_tls.ca_file == "/etc/autovibe/nats-ca.pem");
  CHECK(c.nats_tls.cert_file == "/etc/autovibe/client.pem");
  CHECK(c.nats_tls.key_file == "/etc/autovibe/client.key");
  AgentConfig inline_ca;
  REQUIRE(LoadAgentConfigToml("nats_ca_pem = \"\"\"\n" + kCa + "\"\"\"\n", inline_ca));
  CHECK(inline_ca.nats_tls.ca_pem == kCa);
  AgentConfig bad;
  CHECK_FALSE(LoadAgentConfigToml("nats_ca = 3\n", bad));

  auto parsed =
      ParseArgs(ParseAgentArgs, {"autovibe-agent", "--name", "w1", "--nats-ca", "/tmp/ca.pem",
                                 "--nats-cert", "/tmp/c.pem", "--nats-key", "/tmp/c.key"});
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.nats_tls.ca_file == "/tmp/ca.pem");
  CHECK(parsed.config.nats_tls.cert_file == "/tmp/c.pem");
  CHECK(parsed.config.nats_tls.key_file == "/tmp/c.key");
}

TEST_CASE("the controller hands its bus CA to the agents it provisions") {
  TempDir dir;
  std::ofstream(dir / "ca.pem") << kCa;
  std::ofstream(dir / "agents-ca.pem") << kCa << kCa;
  ControllerConfig c;
  REQUIRE(LoadControllerConfigToml("nats_ca = \"" + dir / "ca.pem" + "\"\n", c));
  CHECK(c.nats_tls.ca_file == dir / "ca.pem");
  CHECK(AgentNatsCa(c).value() == kCa);
  c.agent_nats_ca = dir / "agents-ca.pem";
  CHECK(AgentNatsCa(c).value() == kCa + kCa);
  ControllerConfig none;
  CHECK(AgentNatsCa(none).value().empty());
  none.nats_tls.ca_file = dir / "missing.pem";
  auto missing = AgentNatsCa(none);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kBadConfig);
  std::ofstream(dir / "junk.pem") << "not a certificate";
  none.nats_tls.ca_file = dir / "junk.pem";
  CHECK_THAT(AgentNatsCa(none).error().message, Catch::Contains("holds no PEM certificate"));

  auto parsed =
      ParseArgs(ParseControllerArgs, {"autovibe-controller", "--insecure-bus", "--nats-ca",
                                      dir / "ca.pem", "--agent-nats-ca", dir / "agents-ca.pem"});
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.nats_tls.ca_file == dir / "ca.pem");
  CHECK(parsed.config.agent_nats_ca == dir / "agents-ca.pem");

  // In the machine's config, inline: every backend's agent reads it the same way.
  MachineLaunch launch;
  launch.machine_id = "m-0123456789ab";
  launch.name = "w-1";
  launch.agent.nats_url = "tls://10.0.0.1:4222";
  launch.agent.nats_ca_pem = kCa;
  auto text = RenderAgentToml(launch, {.data_dir = "/d", .backend = "local"});
  REQUIRE(text);
  AgentConfig agent;
  REQUIRE(LoadAgentConfigToml(*text, agent));
  CHECK(agent.nats_tls.ca_pem == kCa);
  // A pool may not swap the CA its machines trust.
  auto swapped = RenderAgentToml(
      launch, {.data_dir = "/d", .backend = "local", .extra_toml = "nats_ca_pem = \"x\"\n"});
  REQUIRE_FALSE(swapped);

  // And in cloud-init's user data, as /etc/autovibe/nats-ca.pem.
  auto ud = AgentUserData(std::string(AV_SOURCE_DIR) + "/templates", *text, {}, {}, kCa);
  REQUIRE(ud);
  CHECK(WrittenFile(*ud, "/etc/autovibe/nats-ca.pem") == kCa);
}

TEST_CASE("bad TLS settings are refused before any connection, saying which") {
  auto half = ConnectNats({.url = "tls://127.0.0.1:1", .tls = {.cert_file = "/tmp/c.pem"}});
  REQUIRE_FALSE(half);
  CHECK(half.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(half.error().message, Catch::Contains("nats_cert and nats_key go together"));
  auto missing = CheckNatsLogin("tls://127.0.0.1:1", "u", "p", 1s, {.ca_file = "/nonexistent"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(missing.error().message, Catch::Contains("cannot read nats_ca /nonexistent"));
  auto garbage = CheckNatsLogin("tls://127.0.0.1:1", "u", "p", 1s, {.ca_pem = "garbage"});
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().code == ErrorCode::kBadConfig);
}
