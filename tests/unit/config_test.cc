#include "controller/config.h"

#include <catch2/catch.hpp>
#include <functional>

#include "common/core/config_file.h"
#include "tests/support/catch_result.h"
#include "worker-agent/agent_config.h"

using namespace autovibe;
using namespace std::chrono_literals;

TEST_CASE("controller config reads TOML and validates it") {
  ControllerConfig c;
  REQUIRE(LoadControllerConfigToml(R"(
data_dir = "/srv/av"
nats = "nats://10.0.0.1:4222"
listen = "0.0.0.0:9090"
heartbeat_interval = "500ms"
heartbeat_ttl = "5s"

[[pool]]
name = "local"
backend = "local"
)",
                                   c));
  CHECK(c.data_dir == "/srv/av");
  CHECK(c.nats_url == "nats://10.0.0.1:4222");
  CHECK(c.listen == "0.0.0.0:9090");
  CHECK(c.heartbeat_interval == 500ms);
  CHECK(c.heartbeat_ttl == 5s);
  CHECK(ValidateControllerConfig(c));
}

TEST_CASE("controller config refuses typos, wrong types, bad durations and bad TOML") {
  for (const char* bad : {"heartbeat_intervl = \"2s\"", "listen = 8080", "heartbeat_ttl = \"10\"",
                          "data_dir = ", "[unclosed"}) {
    ControllerConfig c;
    INFO(bad);
    auto r = LoadControllerConfigToml(bad, c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
  }
}

TEST_CASE("scheduled backups: every, dir and keep, within reason") {
  ControllerConfig c;
  REQUIRE(LoadControllerConfigToml(
      "backup_every = \"24h\"\nbackup_dir = \"/srv/backups\"\nbackup_keep = 14\n", c));
  CHECK(c.backup_every == 24h);
  CHECK(c.backup_dir == "/srv/backups");
  CHECK(c.backup_keep == 14);
  CHECK(ValidateControllerConfig(c));
  for (const char* bad : {"backup_keep = 0", "backup_keep = \"7\"", "backup_keep = 100000"}) {
    INFO(bad);
    ControllerConfig d;
    CHECK_FALSE(LoadControllerConfigToml(bad, d));
  }
  c.backup_every = 100ms;
  CHECK_FALSE(ValidateControllerConfig(c));
}

TEST_CASE("a whole number given as a float is taken only when it is one and fits") {
  // Found by fuzzing (tests/fuzz/corpus/config_toml/backup-keep-huge-float): toml++ converted
  // 99e99 to an integer unchecked, which is undefined behaviour.
  ControllerConfig c;
  REQUIRE(LoadControllerConfigToml("backup_keep = 7.0\nmax_result_bytes = 1e6\n", c));
  CHECK(c.backup_keep == 7);
  CHECK(c.max_result_bytes == 1'000'000);
  for (const char* bad :
       {"backup_keep = 99e99", "max_result_bytes = 9.3e18", "backup_keep = 7.5",
        "max_result_bytes = inf", "max_result_bytes = nan", "checkpoint_replicas = -1e300",
        "[[pool]]\nname = \"p\"\nbackend = \"local\"\nmax = 1e300\n"}) {
    INFO(bad);
    ControllerConfig d;
    auto r = LoadControllerConfigToml(bad, d);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
  }
}

TEST_CASE("checkpoint replicas: one by default, none to eight") {
  ControllerConfig c;
  CHECK(c.checkpoint_replicas == 1);
  REQUIRE(LoadControllerConfigToml("checkpoint_replicas = 0\n", c));
  CHECK(c.checkpoint_replicas == 0);
  REQUIRE(LoadControllerConfigToml("checkpoint_replicas = 3\n", c));
  CHECK(c.checkpoint_replicas == 3);
  for (const char* bad : {"checkpoint_replicas = -1", "checkpoint_replicas = 9",
                          "checkpoint_replicas = \"1\"", "checkpoint_replicas = 1.5"}) {
    INFO(bad);
    ControllerConfig d;
    auto r = LoadControllerConfigToml(bad, d);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("checkpoint_replicas must be a whole number") !=
          std::string::npos);
    CHECK(d.checkpoint_replicas == 1);
  }
}

TEST_CASE("a ttl not longer than the interval is refused") {
  ControllerConfig c;
  c.heartbeat_interval = 2s;
  c.heartbeat_ttl = 2s;
  auto r = ValidateControllerConfig(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("heartbeat_ttl") != std::string::npos);
  c.heartbeat_ttl = 3s;
  CHECK(ValidateControllerConfig(c));
  c.subject_prefix = "a.b";
  CHECK_FALSE(ValidateControllerConfig(c));
}

TEST_CASE("controller flags override the config file") {
  std::vector<std::string> args = {
      "autovibe-controller",  "--data-dir", "/tmp/x",        "--heartbeat-ttl", "3s",
      "--heartbeat-interval", "1s",         "--insecure-bus"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = ParseControllerArgs(static_cast<int>(argv.size()), argv.data());
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.data_dir == "/tmp/x");
  CHECK(parsed.config.heartbeat_ttl == 3s);
}

TEST_CASE("agent config reads labels and upstreams, and flags add labels") {
  AgentConfig c;
  REQUIRE(LoadAgentConfigToml(R"(
name = "w1"
[labels]
pool = "gpu"
[upstreams]
anthropic = "mock"
)",
                              c));
  CHECK(c.name == "w1");
  CHECK(c.labels.at("pool") == "gpu");
  CHECK(c.upstreams.at("anthropic") == "mock");
  AgentConfig bad;
  CHECK_FALSE(LoadAgentConfigToml("[labels]\npool = 3\n", bad));
  CHECK_FALSE(LoadAgentConfigToml("nmae = \"x\"\n", bad));

  std::vector<std::string> args = {"autovibe-agent", "--name", "w2",         "--label",    "zone=a",
                                   "--label",        "tier=b", "--upstream", "openai=mock"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = ParseAgentArgs(static_cast<int>(argv.size()), argv.data());
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.name == "w2");
  CHECK(parsed.config.labels.size() == 2);
  CHECK(parsed.config.upstreams.at("openai") == "mock");
}

TEST_CASE("key=value flags need a key and an equals sign") {
  CHECK(ParseKeyValue("a=b")->second == "b");
  CHECK(ParseKeyValue("a=")->second == "");
  CHECK_FALSE(ParseKeyValue("=b").has_value());
  CHECK_FALSE(ParseKeyValue("ab").has_value());
}

TEST_CASE("the shipped example configs load and validate") {
  const std::string dir = std::string(AV_SOURCE_DIR) + "/templates/config/";
  ControllerConfig c;
  auto rc = LoadConfigFile(dir + "controller.toml",
                           [&c](std::string_view t) { return LoadControllerConfigToml(t, c); });
  REQUIRE(rc);
  CHECK(ValidateControllerConfig(c));
  CHECK(c.heartbeat_ttl == 10s);
  AgentConfig a;
  auto ra = LoadConfigFile(dir + "agent.toml",
                           [&a](std::string_view t) { return LoadAgentConfigToml(t, a); });
  REQUIRE(ra);
  CHECK(a.name == "worker-1");
  CHECK(a.labels.at("zone") == "lab-a");
  CHECK(a.upstreams.size() == 2);
}

TEST_CASE("agent settings that make no sense are refused before anything starts") {
  AgentConfig c;
  c.name = "worker-1";
  CHECK(ValidateAgentConfig(c));
  for (auto mutate : std::vector<std::function<void(AgentConfig&)>>{
           [](AgentConfig& a) { a.name = "bad name"; },
           [](AgentConfig& a) { a.name = std::string(64, 'w'); },
           [](AgentConfig& a) { a.subject_prefix = "a.b"; },
           [](AgentConfig& a) { a.log_level = "debgu"; },
           [](AgentConfig& a) { a.data_dir = ""; }}) {
    AgentConfig bad = c;
    mutate(bad);
    CHECK_FALSE(ValidateAgentConfig(bad));
  }
}

TEST_CASE("the controller refuses a bus without users unless told --insecure-bus") {
  ControllerConfig c;
  auto refused = RequireBusUsers(c);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(refused.error().message,
             Catch::Contains("nats_auth_file") && Catch::Contains("--insecure-bus"));
  c.insecure_bus = true;
  CHECK(RequireBusUsers(c));
  ControllerConfig with_users;
  with_users.nats_auth_file = "/srv/nats/users.conf";
  CHECK(RequireBusUsers(with_users));

  ControllerConfig from_file;
  REQUIRE(LoadControllerConfigToml("insecure_bus = true\n", from_file));
  CHECK(from_file.insecure_bus);
  CHECK_FALSE(LoadControllerConfigToml("insecure_bus = \"yes\"\n", from_file));

  const auto parse = [](std::vector<std::string> args) {
    args.insert(args.begin(), "autovibe-controller");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return ParseControllerArgs(static_cast<int>(argv.size()), argv.data());
  };
  CHECK(parse({"--data-dir", "/tmp/x"}).exit_code > 0);
  auto insecure = parse({"--data-dir", "/tmp/x", "--insecure-bus"});
  CHECK(insecure.exit_code == -1);
  CHECK(insecure.config.insecure_bus);
  auto secure = parse({"--data-dir", "/tmp/x", "--nats-user", "controller", "--nats-password", "pw",
                       "--nats-auth-file", "/srv/users.conf", "--nats-pid-file", "/run/nats.pid"});
  CHECK(secure.exit_code == -1);
  CHECK(secure.config.nats_auth_file == "/srv/users.conf");
  CHECK(secure.config.nats_pid_file == "/run/nats.pid");
  // A backup needs only the database.
  CHECK(parse({"backup", "--to", "/tmp/b.db", "--data-dir", "/tmp/x"}).exit_code == -1);
}
