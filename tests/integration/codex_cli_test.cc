// The real Codex CLI (`codex`, from npm; installed by scripts/install-deps.sh) started as the
// codex adapter says, with the Codex home the runner places, against the fake OpenAI Responses
// API (tests/fakes: the real provider cannot be reached from here), and judged by the adapter
// from its JSON events. Run under --strict-config, so a Codex that no longer knows a key of the
// adapter's config.toml (the provider, or a switch that keeps it from calling elsewhere) fails
// here instead of quietly ignoring it. Without `codex` on PATH the test fails, unless
// AUTOVIBE_SKIP_CODEX=1.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>

#include "common/core/files.h"
#include "common/http/client.h"
#include "tests/fakes/fake_openai.h"
#include "tests/integration/codex_installed.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "worker-agent/runner/tool_files.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeOpenAI;
using testing::TempDir;

constexpr const char* kKey = "sk-codex-cli-test-key";

struct CodexRun {
  std::string stdout_text;
  std::string stderr_text;
  int exit_code = -1;
  tools::ToolVerdict verdict;
};

// Runs the adapter's launch for a prompt with exactly the environment the runner would give
// (PATH, HOME, the adapter's variables), in `workspace`, with --strict-config.
CodexRun RunCodex(const FakeOpenAI& fake, const TempDir& dir, const std::string& workspace) {
  v1::RunTask task;
  task.set_task_id("t-codex");
  task.set_tool("codex");
  task.set_prompt("Create hello.txt saying hello.");
  auto launch = tools::FindAdapter("codex")->Prepare(task, {"", "", fake.url() + "/v1", kKey});
  REQUIRE(launch);
  REQUIRE(runner::PlaceToolFiles(dir / "home", *launch));
  launch->argv.insert(launch->argv.begin() + 2, "--strict-config");

  std::vector<std::string> argv = {"env", "-i", "PATH=" + std::string(std::getenv("PATH")),
                                   "HOME=" + (dir / "home")};
  for (const auto& [k, v] : launch->env) argv.push_back(k + "=" + v);
  // stdout alone is the transcript; stderr (warnings) goes aside.
  argv.insert(argv.end(), {"sh", "-c", "cd \"$1\" && shift && exec \"$@\" 2>\"$HOME/stderr.txt\"",
                           "sh", workspace});
  argv.insert(argv.end(), launch->argv.begin(), launch->argv.end());
  testing::ChildProcess codex(argv, dir / "stdout.jsonl");
  CodexRun run;
  run.exit_code = codex.Wait(60s);
  run.stdout_text = codex.Log();
  if (auto err = ReadFile(dir / "home/stderr.txt")) run.stderr_text = *err;
  launch->run->OnStdout(run.stdout_text);
  run.verdict = launch->run->Finish(run.exit_code, 0);
  return run;
}

TEST_CASE("Codex takes the adapter's config whole and does the scripted task through it",
          "[codex]") {
  if (!testing::CodexInstalled()) return;
  FakeOpenAI fake({.text = "Created hello.txt.",
                   .api_key = kKey,
                   .write_file = "hello.txt",
                   .content = "hello from codex\n"});
  REQUIRE(fake.Start());
  TempDir dir("av-codex-cli");
  const std::string workspace = dir / "workspace";
  REQUIRE(MakeDirs(workspace, 0700));

  const CodexRun run = RunCodex(fake, dir, workspace);
  INFO("stdout:\n" << run.stdout_text << "\nstderr:\n" << run.stderr_text);
  REQUIRE(run.exit_code == 0);
  auto written = ReadFile(workspace + "/hello.txt");
  REQUIRE(written);
  CHECK(*written == "hello from codex\n");
  CHECK_THAT(run.stdout_text, !Catch::Contains("unrecognized configuration"));

  CHECK(run.verdict.outcome == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(run.verdict.report.turns() == 2);
  const testing::UsageTally tally = fake.Tally();
  CHECK(tally.calls == 2);
  CHECK(run.verdict.report.reported_input_tokens() == tally.input_tokens);
  CHECK(run.verdict.report.reported_output_tokens() == tally.output_tokens);
  CHECK(run.verdict.report.reported_cache_read_tokens() == tally.cache_read_tokens);

  // Both calls streamed to its own provider with the key from OPENAI_API_KEY; the hosted web
  // search tool, which the config turns off, not offered.
  CHECK(fake.CountAnswers("tool_call") == 1);
  CHECK(fake.CountAnswers("final_text") == 1);
  for (const auto& r : fake.requests()) {
    CHECK(r.stream);
    CHECK(r.authorization == std::string("Bearer ") + kKey);
    CHECK_THAT(r.body,
               Catch::Contains("\"exec_command\"") && !Catch::Contains("\"type\":\"web_search\""));
  }
}

TEST_CASE("FakeOpenAI streams a Responses function call as the real API does", "[fake]") {
  FakeOpenAI fake({.write_file = "out.txt", .content = "it's\n"});
  REQUIRE(fake.Start());
  const std::string tools =
      R"("tools":[{"type":"function","name":"exec_command","parameters":{}}])";
  auto ask = [&](const std::string& input) {
    auto reply = SendHttp({.method = "POST",
                           .url = fake.url() + "/v1/responses",
                           .bearer_token = "k",
                           .body = R"({"model":"gpt-5.1-codex","stream":true,)" + tools +
                                   R"(,"input":)" + input + "}"});
    REQUIRE(reply);
    REQUIRE(reply->status == 200);
    return reply->body;
  };
  const std::string first =
      ask(R"([{"type":"message","role":"user","content":[{"type":"input_text","text":)"
          R"("<cwd>/w</cwd>"}]}])");
  std::string events;
  std::string arguments;
  std::stringstream lines(first);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("event: ", 0) == 0) events += line.substr(7) + " ";
    if (line.rfind("data: ", 0) != 0) continue;
    json::object data = json::parse(line.substr(6)).as_object();
    if (data.at("type") == "response.function_call_arguments.delta") {
      arguments += data.at("delta").as_string();
    }
    if (data.at("type") == "response.completed") {
      CHECK(data.at("response").at("usage").at("output_tokens").as_int64() > 0);
      CHECK(data.at("response").at("output").at(0).at("type") == "function_call");
    }
  }
  CHECK_THAT(events,
             Catch::StartsWith("response.created response.in_progress response.output_item.added "
                               "response.function_call_arguments.delta ") &&
                 Catch::EndsWith(" response.function_call_arguments.delta "
                                 "response.function_call_arguments.done response.output_item.done "
                                 "response.completed "));
  CHECK(json::parse(arguments).at("cmd") == R"(printf %s 'it'\''s
' > '/w/out.txt')");
  CHECK(fake.requests()[0].written_path == "/w/out.txt");

  // The tool's output handed back: the final text.
  const std::string second = ask(
      R"([{"type":"function_call","call_id":"call_fake1","name":"exec_command","arguments":"{}"},)"
      R"({"type":"function_call_output","call_id":"call_fake1","output":"ok"}])");
  CHECK_THAT(second, Catch::Contains("response.output_text.delta") &&
                         Catch::Contains("\"type\":\"message\""));
  CHECK(fake.CountAnswers("tool_call") == 1);
  CHECK(fake.CountAnswers("final_text") == 1);
}

}  // namespace
}  // namespace autovibe
