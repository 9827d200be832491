#include "controller/provisioners/pool_config.h"

#include <catch2/catch.hpp>

#include "controller/config.h"
#include "controller/provisioners/agent_toml.h"
#include "controller/provisioners/factory.h"
#include "tests/support/catch_result.h"
#include "worker-agent/agent_config.h"

using namespace autovibe;

namespace {

Result<std::vector<PoolConfig>> Parse(const std::string& text) {
  ControllerConfig c;
  if (auto r = LoadControllerConfigToml(text, c); !r) return r.error();
  return c.pools;
}

}  // namespace

TEST_CASE("pools are read from the controller config") {
  auto pools = Parse(R"(
[[pool]]
name = "local"
backend = "local"
min = 1
max = 4
idle_timeout = "90s"
boot_timeout = "30s"
task_slots = 2
labels = { pool = "local", gpu = "no" }
tools = ["shell", "claude-code"]
[pool.agent]
upstreams = { anthropic = "mock" }
[pool.local]
agent = "/opt/autovibe/bin/autovibe-agent"

[[pool]]
name = "kvm"
backend = "libvirt"
)");
  REQUIRE(pools);
  REQUIRE(pools->size() == 2);
  const PoolConfig& p = (*pools)[0];
  CHECK(p.name == "local");
  CHECK(p.min == 1);
  CHECK(p.max == 4);
  CHECK(p.idle_timeout == std::chrono::seconds(90));
  CHECK(p.boot_timeout == std::chrono::seconds(30));
  CHECK(p.task_slots == 2);
  CHECK(p.labels.at("gpu") == "no");
  CHECK(p.tools == std::vector<std::string>{"shell", "claude-code"});
  CHECK(p.agent_toml.find("anthropic") != std::string::npos);
  CHECK(p.backend_settings["agent"].value<std::string>() == "/opt/autovibe/bin/autovibe-agent");
  CHECK((*pools)[1].max == 1);  // defaults
  CHECK((*pools)[1].min == 0);
}

TEST_CASE("bad pools are refused with the pool and key named") {
  const std::pair<std::string, const char*> bad[] = {
      {"[[pool]]\nname = \"a\"\nbackend = \"aws\"\n", "backend must be one of"},
      {"[[pool]]\nbackend = \"local\"\n", "name must be"},
      {"[[pool]]\nname = \"a b\"\nbackend = \"local\"\n", "name must be"},
      {"[[pool]]\nname = \"" + std::string(53, 'p') + "\"\nbackend = \"local\"\n",
       "name must be 1-52"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nmin = 3\nmax = 2\n", "min must not exceed"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nmax = 0\n", "max must be at least 1"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nmax = -1\n", "max must be a whole number"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nflavor = 1\n", "unknown key \"flavor\""},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nidle_timeout = \"soon\"\n", "idle_timeout"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\ntools = \"shell\"\n", "tools must be"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\n[pool.docker]\nimage = \"x\"\n",
       "its backend is local"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\n[pool.agent]\ntask_slots = 3\n",
       "task_slots on the pool"},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\n[[pool]]\nname = \"a\"\nbackend = \"local\"\n",
       "two pools have this name"},
      {"pool = 3\n", "array of tables"},
  };
  for (const auto& [text, why] : bad) {
    auto r = Parse(text);
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    CHECK_THAT(r.error().message, Catch::Contains(why));
  }
}

TEST_CASE("a pool serves tasks whose tool it offers and whose labels it carries") {
  PoolConfig p;
  p.labels = {{"pool", "gpu"}, {"zone", "a"}};
  CHECK(PoolServes(p, "shell", {}));
  CHECK(PoolServes(p, "shell", {{"zone", "a"}}));
  CHECK_FALSE(PoolServes(p, "shell", {{"zone", "b"}}));
  CHECK_FALSE(PoolServes(p, "shell", {{"autovibe.machine", "m-1"}}));
  p.tools = {"claude-code"};
  CHECK(PoolServes(p, "claude-code", {}));
  CHECK_FALSE(PoolServes(p, "shell", {}));
}

TEST_CASE("the agent config a provisioner writes names the machine and keeps pool settings") {
  MachineLaunch launch;
  launch.machine_id = "m-0123456789ab";
  launch.name = "local-7";
  launch.agent.nats_url = "nats://10.0.0.1:4222";
  launch.agent.nats_user = "m-0123456789ab";
  launch.agent.nats_password = "s3cret \"quoted\"";
  launch.agent.labels = {{"pool", "local"}, {"odd key", "v"}};
  auto text = RenderAgentToml(launch, {.data_dir = "/var/lib/autovibe/agent",
                                       .backend = "local",
                                       .extra_toml = "task_slots = 2\n[upstreams]\nanthropic = "
                                                     "\"mock\"\n"});
  REQUIRE(text);
  toml::table t = toml::parse(*text);
  CHECK(t["name"].value<std::string>() == "local-7");
  CHECK(t["nats"].value<std::string>() == "nats://10.0.0.1:4222");
  CHECK(t["nats_password"].value<std::string>() == "s3cret \"quoted\"");
  CHECK(t["labels"]["odd key"].value<std::string>() == "v");
  CHECK(t["task_slots"].value<int64_t>() == 2);
  CHECK(t["upstreams"]["anthropic"].value<std::string>() == "mock");
  CHECK(t["backend"].value<std::string>() == "local");

  // The pool may not override what identifies the machine.
  auto bad = RenderAgentToml(
      launch, {.data_dir = "/d", .backend = "local", .extra_toml = "name = \"other\"\n"});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("\"name\""));
  auto broken =
      RenderAgentToml(launch, {.data_dir = "/d", .backend = "local", .extra_toml = "= nope"});
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code == ErrorCode::kBadConfig);
}

TEST_CASE("per-machine bus users need the controller's own user and nats-server's pid file") {
  ControllerConfig c;
  c.nats_auth_file = "/tmp/users.conf";
  auto no_user = ValidateControllerConfig(c);
  REQUIRE_FALSE(no_user);
  CHECK_THAT(no_user.error().message, Catch::Contains("nats_pid_file"));
  c.nats_pid_file = "/run/nats.pid";
  auto still = ValidateControllerConfig(c);
  REQUIRE_FALSE(still);
  CHECK_THAT(still.error().message, Catch::Contains("nats_user and nats_password"));
  c.nats_user = "controller";
  c.nats_password = "with\"quote";
  CHECK_FALSE(ValidateControllerConfig(c));
  c.nats_password = "fine-secret";
  CHECK(ValidateControllerConfig(c));
  c.nats_user = "m-0123456789ab";
  CHECK_FALSE(ValidateControllerConfig(c));
}

TEST_CASE("a pool's task_user and network reach its machines' agent config") {
  auto pools = Parse(R"(
[[pool]]
name = "trusted"
backend = "local"
task_user = "root"
[[pool]]
name = "sealed"
backend = "local"
network = "proxy-only"
[pool.agent]
upstreams = { anthropic = "mock" }
[pool.agent.meter]
allow_unpriced_models = true
[[pool]]
name = "plain"
backend = "local"
)");
  REQUIRE(pools);
  REQUIRE(pools->size() == 3);
  CHECK((*pools)[2].task_user == "per-task");  // boxed unless a pool opts out
  CHECK((*pools)[2].network == "host");
  const std::string trusted = PoolAgentToml((*pools)[0]);
  CHECK_THAT(trusted, Catch::Contains("task_user = \"root\""));
  const std::string sealed = PoolAgentToml((*pools)[1]);
  CHECK_THAT(sealed, Catch::Contains("task_user = \"per-task\"") &&
                         Catch::Contains("network = \"proxy-only\""));
  // What the provisioner writes, the agent reads as meant.
  MachineLaunch launch;
  launch.machine_id = "m-0123456789ab";
  launch.name = "sealed-1";
  auto toml = RenderAgentToml(launch, {.data_dir = "/d", .backend = "local", .extra_toml = sealed});
  REQUIRE(toml);
  AgentConfig agent;
  REQUIRE(LoadAgentConfigToml(*toml, agent));
  CHECK(agent.box.task_user == box::TaskUser::kPerTask);
  CHECK(agent.box.network == box::TaskNetwork::kProxyOnly);
  CHECK(agent.upstreams.at("anthropic") == "mock");
  // A pool that allows unpriced models says so to its agents' metering proxies.
  CHECK(agent.meter.allow_unpriced_models);

  const std::pair<std::string, const char*> bad[] = {
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\ntask_user = \"admin\"\n",
       "task_user must be \"per-task\" or \"root\""},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\nnetwork = \"none\"\n",
       "network must be \"host\" or \"proxy-only\""},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\ntask_user = \"root\"\nnetwork = "
       "\"proxy-only\"\n",
       "needs task_user = \"per-task\""},
      {"[[pool]]\nname = \"a\"\nbackend = \"local\"\n[pool.agent]\ntask_user = \"root\"\n",
       "task_user on the pool"},
  };
  for (const auto& [text, why] : bad) {
    auto r = Parse(text);
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains(why));
  }
}
