// How each tool adapter starts its tool: argv, environment and option checks.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "worker-agent/host/tools.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe::tools {
namespace {

using Argv = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

v1::RunTask CodingTask(const std::string& tool, const std::string& prompt,
                       const Env& options = {}) {
  v1::RunTask task;
  task.set_task_id("t-1");
  task.set_project("demo");
  task.set_tool(tool);
  task.set_prompt(prompt);
  for (const auto& [k, v] : options) (*task.mutable_options())[k] = v;
  return task;
}

ProviderAccess Access() {
  return {"http://127.0.0.1:7001", "task-token-a", "http://127.0.0.1:7001/v1", "task-token-o"};
}

Result<ToolLaunch> Prepare(const v1::RunTask& task, const ProviderAccess& access = Access()) {
  const ToolAdapter* adapter = FindAdapter(task.tool());
  REQUIRE(adapter != nullptr);
  return adapter->Prepare(task, access);
}

// The error a task gets, which must be bad_task naming the tool.
std::string BadTaskMessage(const v1::RunTask& task) {
  auto launch = Prepare(task);
  REQUIRE_FALSE(launch);
  CHECK(launch.error().code == ErrorCode::kBadTask);
  CHECK(launch.error().message.rfind(task.tool() + ": ", 0) == 0);
  return launch.error().message;
}

TEST_CASE("Adapters are found by tool name, with the binary a machine must have", "[tools]") {
  std::vector<std::pair<std::string, std::string>> found;
  for (const ToolAdapter* a : AllAdapters()) found.emplace_back(a->name(), a->binary());
  CHECK(found ==
        std::vector<std::pair<std::string, std::string>>{
            {"shell", "sh"}, {"claude-code", "claude"}, {"aider", "aider"}, {"codex", "codex"}});
  CHECK(FindAdapter("claude-code") == AllAdapters()[1]);
  CHECK(FindAdapter("claude") == nullptr);
  CHECK(FindAdapter("") == nullptr);
}

TEST_CASE("A machine reports every adapter whose binary it has, by the adapter's name", "[tools]") {
  testing::TempDir bin("av-tool-bins");
  std::vector<std::string> names;
  for (const ToolAdapter* a : AllAdapters()) {
    names.emplace_back(a->name());
    const std::string path = bin / std::string(a->binary());
    std::ofstream(path) << "#!/bin/sh\n";
    REQUIRE(chmod(path.c_str(), 0755) == 0);
  }
  std::sort(names.begin(), names.end());
  CHECK(host::FindTools(bin.path()) == names);
}

TEST_CASE("shell runs the command as argv, with the provider environment", "[tools]") {
  v1::RunTask task = CodingTask("shell", "");
  for (const char* arg : {"printf", "%s\\n", "two words", "$HOME"}) task.add_command(arg);
  auto launch = Prepare(task);
  REQUIRE(launch);
  CHECK(launch->argv == Argv{"printf", "%s\\n", "two words", "$HOME"});
  CHECK(launch->env == Env{{"ANTHROPIC_BASE_URL", "http://127.0.0.1:7001"},
                           {"ANTHROPIC_API_KEY", "task-token-a"},
                           {"OPENAI_BASE_URL", "http://127.0.0.1:7001/v1"},
                           {"OPENAI_API_KEY", "task-token-o"}});
  REQUIRE(launch->run != nullptr);
  launch->run->OnStdout("anything\n");
  CHECK(launch->run->Finish(0, 0).outcome == v1::TASK_OUTCOME_SUCCEEDED);

  auto without_access = Prepare(task, ProviderAccess{});
  REQUIRE(without_access);
  CHECK(without_access->env.empty());
}

TEST_CASE("shell refuses a task without a command or with options", "[tools]") {
  v1::RunTask task = CodingTask("shell", "a prompt is not a command");
  CHECK_THAT(BadTaskMessage(task), Catch::Contains("a command is required"));
  task.add_command("");
  CHECK_THAT(BadTaskMessage(task), Catch::Contains("a command is required"));
  task.set_command(0, "true");
  (*task.mutable_options())["model"] = "x";
  CHECK_THAT(BadTaskMessage(task), Catch::Contains("unknown option \"model\" (options: none)"));
}

TEST_CASE("VerdictFromExit: zero succeeds, anything else fails and says why", "[tools]") {
  CHECK(VerdictFromExit(0, 0).outcome == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(VerdictFromExit(0, 0).reason.empty());
  CHECK(VerdictFromExit(3, 0).outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(VerdictFromExit(3, 0).reason == "exit code 3");
  CHECK(VerdictFromExit(-1, 9).outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(VerdictFromExit(-1, 9).reason == "killed by signal SIGKILL");
  CHECK(SignalName(15) == "SIGTERM");
  CHECK(SignalName(1000) == "signal 1000");
}

TEST_CASE("claude-code runs print mode with a stream-json transcript, unattended", "[tools]") {
  auto launch = Prepare(CodingTask("claude-code", "Add a README"));
  REQUIRE(launch);
  CHECK(launch->argv == Argv{"claude", "-p", "--output-format", "stream-json", "--verbose",
                             "--dangerously-skip-permissions", "--", "Add a README"});
  CHECK(launch->env.at("ANTHROPIC_BASE_URL") == "http://127.0.0.1:7001");
  CHECK(launch->env.at("ANTHROPIC_API_KEY") == "task-token-a");
  CHECK(launch->env.at("IS_SANDBOX") == "1");
  CHECK(launch->env.at("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC") == "1");
  CHECK(launch->env.at("DISABLE_AUTOUPDATER") == "1");
  CHECK(launch->env.at("DISABLE_TELEMETRY") == "1");
  CHECK(launch->run != nullptr);

  auto no_access = Prepare(CodingTask("claude-code", "x"), ProviderAccess{});
  REQUIRE(no_access);
  CHECK(no_access->env.count("ANTHROPIC_BASE_URL") == 0);
  CHECK(no_access->env.count("ANTHROPIC_API_KEY") == 0);
}

TEST_CASE("claude-code passes model and max_turns, a prompt like a flag stays the prompt",
          "[tools]") {
  auto launch = Prepare(CodingTask("claude-code", "--help me",
                                   {{"model", "claude-sonnet-4-5"}, {"max_turns", "12"}}));
  REQUIRE(launch);
  CHECK(launch->argv == Argv{"claude", "-p", "--output-format", "stream-json", "--verbose",
                             "--dangerously-skip-permissions", "--max-turns", "12", "--model",
                             "claude-sonnet-4-5", "--", "--help me"});
}

TEST_CASE("claude-code refuses a missing prompt and bad options", "[tools]") {
  CHECK_THAT(BadTaskMessage(CodingTask("claude-code", "")),
             Catch::Contains("a prompt is required"));
  CHECK_THAT(BadTaskMessage(CodingTask("claude-code", " \n\t")),
             Catch::Contains("a prompt is required"));
  for (const char* turns : {"0", "-1", "abc", "5x", "", "99999999999", "1.5"}) {
    INFO("max_turns=" << turns);
    CHECK_THAT(BadTaskMessage(CodingTask("claude-code", "p", {{"max_turns", turns}})),
               Catch::Contains("option max_turns must be a positive integer"));
  }
  for (const char* model : {"", "-x", "claude sonnet", "a;rm -rf /"}) {
    INFO("model=" << model);
    CHECK_THAT(BadTaskMessage(CodingTask("claude-code", "p", {{"model", model}})),
               Catch::Contains("option model must be a model id"));
  }
  CHECK_THAT(BadTaskMessage(CodingTask("claude-code", "p", {{"max-turns", "3"}})),
             Catch::Contains("unknown option \"max-turns\" (options: model, max_turns)"));
}

TEST_CASE("aider runs one message, answers yes, leaves commits to the agent", "[tools]") {
  auto launch = Prepare(CodingTask("aider", "-fix the bug", {{"model", "openai/gpt-4.1"}}));
  REQUIRE(launch);
  CHECK(launch->argv == Argv{"aider", "--message=-fix the bug", "--yes-always", "--no-auto-commits",
                             "--no-check-update", "--no-analytics", "--no-pretty",
                             "--model=openai/gpt-4.1"});
  CHECK(launch->env.at("OPENAI_API_BASE") == "http://127.0.0.1:7001/v1");
  CHECK(launch->env.at("OPENAI_BASE_URL") == "http://127.0.0.1:7001/v1");
  CHECK(launch->env.at("OPENAI_API_KEY") == "task-token-o");
  CHECK(launch->env.at("ANTHROPIC_BASE_URL") == "http://127.0.0.1:7001");
  CHECK(launch->env.at("ANTHROPIC_API_KEY") == "task-token-a");
  CHECK(launch->run->Finish(2, 0).reason == "exit code 2");

  CHECK_THAT(BadTaskMessage(CodingTask("aider", "")), Catch::Contains("a prompt is required"));
  CHECK_THAT(BadTaskMessage(CodingTask("aider", "p", {{"max_turns", "3"}})),
             Catch::Contains("unknown option \"max_turns\" (options: model)"));
}

TEST_CASE("codex runs exec unattended in a workspace that need not be a git checkout", "[tools]") {
  auto launch = Prepare(CodingTask("codex", "Add tests", {{"model", "gpt-5-codex"}}));
  REQUIRE(launch);
  CHECK(launch->argv == Argv{"codex", "exec", "--json", "--color", "never", "--skip-git-repo-check",
                             "--dangerously-bypass-approvals-and-sandbox", "--model", "gpt-5-codex",
                             "--", "Add tests"});
  CHECK(launch->env.at("OPENAI_BASE_URL") == "http://127.0.0.1:7001/v1");
  CHECK(launch->env.at("OPENAI_API_KEY") == "task-token-o");
  // Its home is the task's own, which the runner places: the adapter names it relative.
  CHECK(launch->home_dirs == Env{{"CODEX_HOME", "codex"}});
  CHECK(launch->env.count("CODEX_HOME") == 0);
  // A run that printed nothing never finished its turn.
  CHECK(launch->run->Finish(0, 0).reason == "codex ended without finishing its turn (exit code 0)");

  CHECK_THAT(BadTaskMessage(CodingTask("codex", "")), Catch::Contains("a prompt is required"));
  CHECK_THAT(BadTaskMessage(CodingTask("codex", "p", {{"model", "--full-auto"}})),
             Catch::Contains("option model must be a model id"));
  CHECK_THAT(BadTaskMessage(CodingTask("codex", "p", {{"max_turns", "3"}})),
             Catch::Contains("unknown option \"max_turns\" (options: model)"));
}

TEST_CASE("codex's config points its own provider at the proxy and turns off calls elsewhere",
          "[tools]") {
  auto launch = Prepare(CodingTask("codex", "-rf is a prompt, not an option"));
  REQUIRE(launch);
  // A model the price table knows unless the task names one; the prompt stays one argument.
  CHECK(Argv(launch->argv.end() - 4, launch->argv.end()) ==
        Argv{"--model", "gpt-5.1-codex", "--", "-rf is a prompt, not an option"});
  REQUIRE(launch->files.size() == 1);
  CHECK(launch->files[0].path == "codex/config.toml");
  const std::string& toml = launch->files[0].content;
  for (const char* line :
       {"model_provider = \"autovibe\"\n", "[model_providers.autovibe]\n",
        "base_url = \"http://127.0.0.1:7001/v1\"\n", "env_key = \"OPENAI_API_KEY\"\n",
        "wire_api = \"responses\"\n", "supports_websockets = false\n",
        "check_for_update_on_startup = false\n", "[analytics]\nenabled = false\n",
        "[feedback]\nenabled = false\n", "web_search = \"disabled\"\n", "plugins = false\n",
        "remote_plugin = false\n", "apps = false\n"}) {
    CHECK_THAT(toml, Catch::Contains(line));
  }
  // Only the name of the variable that holds the key, never a key.
  CHECK_THAT(toml, !Catch::Contains("task-token"));

  // A URL that would break out of its TOML string stays in it.
  auto odd = Prepare(CodingTask("codex", "p"),
                     {"", "", "http://h:1/v1\"\nmodel_provider = \"openai", "tok"});
  REQUIRE(odd);
  CHECK_THAT(odd->files[0].content,
             Catch::Contains(R"(base_url = "http://h:1/v1\"\u000amodel_provider = \"openai")"));

  // A resumed task is told it was stopped part way.
  v1::RunTask resumed = CodingTask("codex", "Add tests");
  resumed.set_resume(true);
  auto again = Prepare(resumed);
  REQUIRE(again);
  CHECK_THAT(again->argv.back(), Catch::StartsWith("You were stopped part way") &&
                                     Catch::EndsWith("The task was: Add tests"));
}

}  // namespace
}  // namespace autovibe::tools
