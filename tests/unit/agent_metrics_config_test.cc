// The agent's metrics listener: off by default, on with a flag or a config key, on loopback
// only unless allowed otherwise; a wrong address is refused with a clear error.
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "worker-agent/agent_config.h"
#include "worker-agent/agent_metrics.h"

using namespace autovibe;

namespace {

ParsedAgentArgs Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"autovibe-agent", "--name", "m1", "--data-dir", "/tmp/x"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseAgentArgs(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("the agent serves no metrics unless asked") {
  auto p = Parse({});
  REQUIRE(p.exit_code == -1);
  CHECK(p.config.metrics_listen.empty());
  CHECK(!p.config.metrics_allow_remote);
}

TEST_CASE("the agent's --metrics-listen takes a loopback address") {
  for (const char* listen : {"127.0.0.1:9464", "127.0.0.2:0", "[::1]:9464"}) {
    INFO(listen);
    auto p = Parse({"--metrics-listen", listen});
    CHECK(p.exit_code == -1);
    CHECK(p.config.metrics_listen == listen);
  }
}

TEST_CASE("a metrics address off loopback is refused unless allowed, with a clear error") {
  auto refused = CheckMetricsListen("0.0.0.0:9464", false);
  REQUIRE(!refused);
  CHECK(refused.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(refused.error().message,
             Catch::Contains("not a loopback address") && Catch::Contains("metrics_allow_remote"));
  CHECK(Parse({"--metrics-listen", "0.0.0.0:9464"}).exit_code != -1);
  CHECK(Parse({"--metrics-listen", "10.1.2.3:9464"}).exit_code != -1);
  auto allowed = Parse({"--metrics-listen", "0.0.0.0:9464", "--metrics-allow-remote"});
  CHECK(allowed.exit_code == -1);
  CHECK(allowed.config.metrics_allow_remote);
}

TEST_CASE("a metrics address that is not HOST:PORT with an IP address is refused") {
  for (const char* bad : {"localhost:9464", "9464", "127.0.0.1", "127.0.0.1:99999", ":9464"}) {
    INFO(bad);
    auto r = CheckMetricsListen(bad, false);
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    CHECK_THAT(r.error().message, Catch::Contains(bad));
  }
}

TEST_CASE("metrics_listen and metrics_allow_remote in the agent's TOML") {
  AgentConfig c;
  c.name = "m1";
  REQUIRE(LoadAgentConfigToml("metrics_listen = \"127.0.0.1:9464\"\n", c));
  CHECK(c.metrics_listen == "127.0.0.1:9464");
  CHECK(ValidateAgentConfig(c));
  AgentConfig remote;
  remote.name = "m1";
  REQUIRE(LoadAgentConfigToml("metrics_listen = \"0.0.0.0:9464\"\n", remote));
  CHECK(!ValidateAgentConfig(remote));
  REQUIRE(LoadAgentConfigToml("metrics_allow_remote = true\n", remote));
  CHECK(ValidateAgentConfig(remote));
  AgentConfig bad;
  auto r = LoadAgentConfigToml("metrics_allow_remote = \"yes\"\n", bad);
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains("metrics_allow_remote"));
}
