// A codex task through the whole fleet: submitted to a real controller, placed on a real agent
// (tasks boxed, as by default), run by the real Codex CLI (`codex`, from npm; installed by
// scripts/install-deps.sh) against the fake OpenAI Responses API (tests/fakes: the real provider
// cannot be reached from here) through the agent's metering proxy, with the result read back as
// a user would. Without `codex` on PATH the test fails, unless AUTOVIBE_SKIP_CODEX=1.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/budget/amounts.h"
#include "common/core/files.h"
#include "tests/fakes/fake_openai.h"
#include "tests/integration/codex_installed.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// A recognisable real key: the agent's own, which only the provider may see.
constexpr const char* kRealKey = "sk-openai-REAL-codex-do-not-leak-0003";

std::string Slurp(const std::string& path) {
  auto text = ReadFile(path);
  return text ? *text : "";
}

// The regular files under `dir` (links not followed) whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && !entry.is_symlink() &&
        Slurp(entry.path()).find(needle) != std::string::npos) {
      found.push_back(entry.path());
    }
  }
  return found;
}

struct CodexFleet {
  FakeOpenAI fake;
  TempDir dir;
  NatsServer nats{dir / "nats"};
  ControllerProcess controller{dir / "controller", nats.url()};
  std::unique_ptr<AgentProcess> agent;
  TaskClient tasks{controller};

  CodexFleet(const std::string& task_user, FakeOpenAIOptions options) : fake(std::move(options)) {
    REQUIRE(fake.Start());
    fs::create_directories(dir / "home");
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(),
        std::vector<std::string>{"--upstream", "openai=" + fake.url() + "/v1", "--task-user",
                                 task_user},
        std::map<std::string, std::string>{{"HOME", dir / "home"}, {"OPENAI_API_KEY", kRealKey}});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller.MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready";
        },
        15s));
    bool offers_codex = false;
    for (const auto& t : controller.MachineByName("agent-1")->at("tools").as_array()) {
      offers_codex = offers_codex || t.as_string() == "codex";
    }
    REQUIRE(offers_codex);
    tasks.CreateProject("demo");
    auto r = controller.Call(
        "PUT", "/v1/projects/demo/budgets", std::nullopt,
        R"({"budgets":[{"resource":"usd","limit":"5.00","period":"total","on_exhaust":"stop"}]})");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
  }

  // The project's ledger, all calls together.
  json::object Ledger() {
    auto rows = controller.GetJson("/v1/usage?project=demo").at("rows").as_array();
    return rows.empty() ? json::object{} : rows[0].as_object();
  }
};

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<int64_t>() : -1;
}

}  // namespace

TEST_CASE("a codex task writes its file, is billed to the token, and never sees the real key",
          "[codex]") {
  if (!CodexInstalled()) return;
  // Boxed (each task its own user and HOME, the default) and as the agent's own user.
  const std::string task_user = GENERATE("per-task", "root");
  INFO("task_user = " << task_user);
  CodexFleet f(task_user, {.text = "I wrote hello.txt.",
                           .api_key = kRealKey,
                           .write_file = "hello.txt",
                           .content = "hello from codex\n",
                           // What the tool itself runs with: the Codex process's own environment.
                           .then_run = "tr '\\0' '\\n' < /proc/$PPID/environ > tool-env.txt"});
  const std::string id = f.tasks.Submit({{"project", "demo"},
                                         {"tool", "codex"},
                                         {"prompt", "Create hello.txt saying hello."},
                                         {"timeout_s", 120}});
  const bool done = f.tasks.WaitState(id, "succeeded", 90s);
  const std::string logs = f.tasks.Logs(id);
  INFO("task: " << json::serialize(f.tasks.Task(id)) << "\nlogs:\n" << logs);
  REQUIRE(done);

  // The file is in the task's workspace; Codex's own files are not.
  const std::string workspace = f.dir / "agent-1/workspaces/" + id;
  CHECK(Slurp(workspace + "/hello.txt") == "hello from codex\n");
  CHECK_FALSE(fs::exists(workspace + "/.codex"));
  const std::string codex_home = f.dir / "agent-1/homes/" + id + "/codex";
  CHECK_THAT(Slurp(codex_home + "/config.toml"),
             Catch::Contains("env_key = \"OPENAI_API_KEY\"") &&
                 Catch::Contains("base_url = \"http://127.0.0.1:") &&
                 !Catch::Contains(f.fake.url()));

  // One call answered with the shell tool's call, one carrying its output answered with the
  // final text; each streamed, as Codex asks.
  CHECK(f.fake.CountAnswers("tool_call") == 1);
  CHECK(f.fake.CountAnswers("final_text") == 1);
  CHECK(f.fake.CountAnswers("error") == 0);
  for (const auto& r : f.fake.requests()) {
    CHECK(r.path == "/v1/responses");
    CHECK(r.stream);
    CHECK(r.authorization == std::string("Bearer ") + kRealKey);  // put there by the proxy
    if (r.answer == "tool_call") CHECK(r.written_path == workspace + "/hello.txt");
  }

  // The report: steps, the session, and the tokens Codex says it used, which are the fake's.
  const UsageTally tally = f.fake.Tally();
  const json::object t = f.tasks.Task(id);
  const json::object& report = t.at("report").as_object();
  CHECK(report.at("result_subtype").as_string() == "turn.completed");
  CHECK(Int(report, "turns") >= 2);
  CHECK(report.at("session_id").as_string().size() >= 8);
  REQUIRE(report.contains("reported_tokens"));
  const json::object& said = report.at("reported_tokens").as_object();
  CHECK(Int(said, "input_tokens") == tally.input_tokens);
  CHECK(Int(said, "output_tokens") == tally.output_tokens);
  CHECK(Int(said, "cache_read_tokens") == tally.cache_read_tokens);

  // The ledger holds every call the provider answered, to the token (usage travels through
  // JetStream: polled), and the budget counts its cost.
  REQUIRE(WaitUntil([&] { return Int(f.Ledger(), "calls") == tally.calls; }, 10s));
  const json::object ledger = f.Ledger();
  CHECK(tally.calls == 2);
  CHECK(Int(ledger, "input_tokens") == tally.input_tokens);
  CHECK(Int(ledger, "output_tokens") == tally.output_tokens);
  CHECK(Int(ledger, "cache_read_tokens") == tally.cache_read_tokens);
  CHECK(Int(ledger, "cache_write_tokens") == 0);
  const int64_t usd = *ParseUsd(std::string(ledger.at("usd").as_string()));
  CHECK(usd > 0);
  const json::object usage = f.controller.GetJson("/v1/projects/demo/usage").as_object();
  for (const auto& b : usage.at("budgets").as_array()) {
    if (b.at("resource").as_string() == "usd") {
      CHECK(*ParseUsd(std::string(b.at("spent").as_string())) == usd);
    }
  }

  // The tool ran with the task's own token, never the real key: not in its environment, its
  // Codex home, the workspace, its logs or anything the API answers.
  const std::string tool_env = Slurp(workspace + "/tool-env.txt");
  CHECK_THAT(tool_env, Catch::Contains("OPENAI_API_KEY=") &&
                           Catch::Contains("CODEX_HOME=" + codex_home + "\n"));
  CHECK_THAT(tool_env, !Catch::Contains(kRealKey));
  CHECK(FilesContaining(f.dir / "agent-1/homes/" + id, kRealKey).empty());
  CHECK(FilesContaining(workspace, kRealKey).empty());
  CHECK_THAT(logs, Catch::Contains("\"type\":\"turn.completed\"") && !Catch::Contains(kRealKey));
  for (const std::string& path : {"/v1/tasks/" + id, std::string("/v1/usage?group_by=task")}) {
    auto r = f.controller.Call("GET", path);
    REQUIRE(r);
    CHECK_THAT(r->body, !Catch::Contains(kRealKey));
  }
  CHECK_THAT(f.agent->process().Log(), !Catch::Contains(kRealKey));
}
