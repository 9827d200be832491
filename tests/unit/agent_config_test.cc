// The agent's task settings: TOML keys, flags and their checks.
#include "worker-agent/agent_config.h"

#include <catch2/catch.hpp>
#include <functional>

#include "tests/support/catch_result.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;

ParsedAgentArgs Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "autovibe-agent");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseAgentArgs(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("agent task settings have working defaults") {
  AgentConfig c;
  c.name = "w1";
  CHECK(ValidateAgentConfig(c));
  CHECK(c.task_slots == 1);
  CHECK(c.max_output_bytes == 16u << 20);
  CHECK(c.task_grace == 5s);
  CHECK(c.task_limits.no_core_dumps);
}

TEST_CASE("agent task settings come from TOML") {
  AgentConfig c;
  REQUIRE(LoadAgentConfigToml(R"(
task_slots = 4
max_output_bytes = 1048576
task_grace = "2s"
[task_limits]
open_files = 1024
cpu_seconds = 3600
address_space_bytes = 8589934592
core_dumps = true
)",
                              c));
  CHECK(c.task_slots == 4);
  CHECK(c.max_output_bytes == 1u << 20);
  CHECK(c.task_grace == 2s);
  CHECK(c.task_limits.open_files == 1024);
  CHECK(c.task_limits.cpu_seconds == 3600);
  CHECK(c.task_limits.address_space_bytes == 8ull << 30);
  CHECK_FALSE(c.task_limits.no_core_dumps);

  for (const char* bad : {"task_slots = \"two\"\n", "task_slots = -1\n", "max_output_bytes = 1.5\n",
                          "task_grace = 5\n", "task_limits = 3\n", "[task_limits]\nfiles = 3\n",
                          "[task_limits]\ncore_dumps = 0\n"}) {
    INFO(bad);
    AgentConfig b;
    CHECK_FALSE(LoadAgentConfigToml(bad, b));
  }
}

TEST_CASE("agent task settings that make no sense are refused") {
  AgentConfig ok;
  ok.name = "w1";
  for (auto mutate : std::vector<std::function<void(AgentConfig&)>>{
           [](AgentConfig& a) { a.task_slots = 0; }, [](AgentConfig& a) { a.task_slots = 1025; },
           [](AgentConfig& a) { a.max_output_bytes = 100; },
           [](AgentConfig& a) { a.task_grace = 0ms; }, [](AgentConfig& a) { a.task_grace = 11min; },
           [](AgentConfig& a) { a.task_limits.address_space_bytes = 1 << 20; },
           [](AgentConfig& a) { a.task_limits.open_files = 3; }}) {
    AgentConfig bad = ok;
    mutate(bad);
    CHECK_FALSE(ValidateAgentConfig(bad));
  }
}

TEST_CASE("agent checkpoint settings: defaults, the [checkpoints] table, and refusals") {
  AgentConfig c;
  CHECK(c.checkpoints.auto_every == 30s);
  CHECK(c.checkpoints.at_task_end);
  CHECK(c.checkpoints.keep_auto == 20);
  CHECK(c.checkpoints.keep_days == 7);
  REQUIRE(LoadAgentConfigToml(R"(
[checkpoints]
auto_every = "10s"
at_task_end = false
keep_auto = 5
keep_days = 2
prune_every = "1m"
)",
                              c));
  CHECK(c.checkpoints.auto_every == 10s);
  CHECK_FALSE(c.checkpoints.at_task_end);
  CHECK(c.checkpoints.keep_auto == 5);
  CHECK(c.checkpoints.keep_days == 2);
  CHECK(c.checkpoints.prune_every == 1min);
  for (const char* bad : {"[checkpoints]\nkeep_auto = -1", "[checkpoints]\nat_task_end = \"yes\"",
                          "[checkpoints]\nauto_every = \"soon\"",
                          "[checkpoints]\nkeep_everything = true", "checkpoints = 5"}) {
    INFO(bad);
    AgentConfig d;
    auto r = LoadAgentConfigToml(bad, d);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("checkpoints") != std::string::npos);
    CHECK(d.checkpoints.keep_auto == 20);
  }
  AgentConfig no_prune;
  no_prune.name = "w1";
  no_prune.checkpoints.prune_every = 0s;
  CHECK_FALSE(ValidateAgentConfig(no_prune));
}

TEST_CASE("the flags --task-slots and --task-grace override the file") {
  auto parsed = Parse({"--name", "w1", "--task-slots", "3", "--task-grace", "750ms"});
  REQUIRE(parsed.exit_code == -1);
  CHECK(parsed.config.task_slots == 3);
  CHECK(parsed.config.task_grace == 750ms);
  CHECK(Parse({"--name", "w1", "--task-slots", "0"}).exit_code == 2);
  CHECK(Parse({"--name", "w1", "--task-grace", "soon"}).exit_code == 2);
}

}  // namespace autovibe
