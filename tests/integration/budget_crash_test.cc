// Every token paid for when the agent dies: real nats-server, controller and agent processes;
// 8 shell tasks stream metered calls through the agent's proxy to the fake Anthropic API
// (tests/fakes), hanging up half of their streams at a random point, while the agent is killed
// with SIGKILL (once with calls in flight, once right after a call was served) and started
// again. Afterwards the ledger in controller.db agrees
// with the fake provider's own tally to the token: every call the provider served is charged
// once, at its real figures, or, if its record died with the agent, as an estimate of its full
// reservation.
#include <signal.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/fakes/fake_anthropic.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"
#include "worker-agent/meter/request.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kKey = "sk-ant-REAL-crash-test-0003";
constexpr int kTasks = 8;
constexpr int64_t kInputTokens = 1234;
constexpr int64_t kOutputTokens = 56;
// What each task's tool sends, again and again, until a file named `stop` is in its workspace.
const std::string kBody = R"({"model":"claude-sonnet-4-5","max_tokens":300,"stream":true,)"
                          R"("messages":[{"role":"user","content":"count to ten"}]})";

const AnswerPacing kPaced{.answer_delay = 20ms, .event_delay = 15ms};

// Every other call, the tool hangs up its stream after 10 to 90 ms (a paced answer takes
// about 150 ms): the proxy reads the answer on to its usage.
std::string CallLoop() {
  return "while [ ! -e stop ]; do cut=; [ $((RANDOM % 2)) = 0 ] && cut=\"timeout 0.0$((RANDOM "
         "% 9 + 1))\"; $cut curl -sS -N \"$ANTHROPIC_BASE_URL/v1/messages\" "
         "-H \"x-api-key: $ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' "
         "-H 'content-type: application/json' -d '" +
         kBody + "' >/dev/null 2>&1; done; true";
}

struct LedgerRows {
  int64_t real_calls = 0, real_input = 0, real_output = 0;
  int64_t estimated_calls = 0, corrected = 0;
  int64_t cost = 0;
  std::vector<std::pair<int64_t, int64_t>> estimates;  // cost, tokens of each
};

// The ledger's LLM rows of project demo, read from controller.db as a user would.
LedgerRows ReadLedger(const std::string& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT estimated, input_tokens, output_tokens, cost_micros,"
                             " corrected_at_ms IS NOT NULL FROM usage_records"
                             " WHERE project = 'demo' AND kind = 'llm'",
                             -1, &st, nullptr) == SQLITE_OK);
  LedgerRows out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const int64_t in = sqlite3_column_int64(st, 1), cost = sqlite3_column_int64(st, 3);
    out.cost += cost;
    out.corrected += sqlite3_column_int(st, 4);
    if (sqlite3_column_int(st, 0) != 0) {
      ++out.estimated_calls;
      out.estimates.emplace_back(cost, in + sqlite3_column_int64(st, 2));
    } else {
      ++out.real_calls;
      out.real_input += in;
      out.real_output += sqlite3_column_int64(st, 2);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

int64_t Count(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

struct CrashFleet {
  FakeAnthropic anthropic{Script()};
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<TaskClient> tasks;

  static FakeAnthropicScript Script() {
    FakeAnthropicScript s;
    s.api_key = kKey;
    s.write_file = "";
    s.side_text = "one two three four five six seven eight nine ten, and that is ten.";
    s.usage = {.input_tokens = kInputTokens, .output_tokens = kOutputTokens};
    s.pacing = kPaced;
    return s;
  }

  CrashFleet() {
    REQUIRE(anthropic.Start());
    controller = std::make_unique<ControllerProcess>(dir / "controller", nats.url());
    tasks = std::make_unique<TaskClient>(*controller);
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(),
        std::vector<std::string>{"--upstream", "anthropic=" + anthropic.url(), "--task-slots",
                                 std::to_string(kTasks)},
        std::map<std::string, std::string>{{"ANTHROPIC_API_KEY", kKey}});
    REQUIRE(AgentReady());
    tasks->CreateProject("demo");
    auto r =
        controller->Call("PUT", "/v1/projects/demo/budgets", std::nullopt,
                         R"({"budgets":[{"resource":"usd","limit":"500.00","period":"total"}]})");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }

  bool AgentReady() {
    return WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready";
        },
        20s);
  }

  std::string db() { return dir / "controller/controller.db"; }
  int64_t LedgerCalls() {
    return Count(db(), "SELECT COUNT(*) FROM usage_records WHERE kind = 'llm'");
  }

  void KillAndRestartAgent() {
    agent->process().Signal(SIGKILL);
    REQUIRE(agent->process().Wait(5s) >= 0);
    agent->Start();
  }
};

}  // namespace

TEST_CASE("an agent killed with -9 mid-call and after a served call leaves no token unpaid",
          "[budget][crash]") {
  CrashFleet f;
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i)
    ids.push_back(f.tasks->SubmitShell("demo", {"bash", "-c", CallLoop()}));
  REQUIRE(WaitUntil([&] { return f.LedgerCalls() >= 40; }, 60s));

  // What the tasks are doing, for a failure's message.
  auto states = [&] {
    std::string out;
    for (const auto& id : ids) {
      const auto t = f.tasks->Task(id);
      out += id + " " + f.tasks->State(id) + " attempts " +
             std::to_string(t.at("attempts").as_int64()) + " (" +
             std::string(t.at("reason").as_string()) + "); ";
    }
    return out;
  };
  // 1. In the middle of calls: every task has a paced stream open most of the time.
  const int64_t before_first = f.anthropic.Tally().calls;
  f.KillAndRestartAgent();
  // The tasks went back to the queue and run again on the restarted agent.
  if (!WaitUntil([&] { return f.anthropic.Tally().calls >= before_first + 40; }, 60s)) {
    FAIL("no calls after the first restart; tasks: " << states());
  }

  // 2. Right after a call was served: answers come at once, and the agent dies the moment the
  // provider's tally moves, before the record can have reached the controller.
  f.anthropic.SetPacing({});
  const int64_t seen = f.anthropic.Tally().calls;
  REQUIRE(WaitUntil([&] { return f.anthropic.Tally().calls > seen; }, 20s, 0ms));
  f.KillAndRestartAgent();
  f.anthropic.SetPacing(kPaced);
  const int64_t before_last = f.anthropic.Tally().calls;
  if (!WaitUntil([&] { return f.anthropic.Tally().calls >= before_last + 40; }, 60s)) {
    FAIL("no calls after the second restart; tasks: " << states());
  }

  // At least 50 streams were hung up (and read on to their usage).
  const std::string hung_up =
      "SELECT COUNT(*) FROM usage_records WHERE status = 'client_gone' AND estimated = 0";
  REQUIRE(WaitUntil([&] { return Count(f.db(), hung_up) >= 50; }, 60s));

  // The tools stop after their current call, and the tasks end.
  REQUIRE(WaitUntil(
      [&] {
        for (const auto& id : ids) {
          if (f.tasks->State(id) != "running") return false;
        }
        return true;
      },
      60s));
  for (const auto& id : ids) std::ofstream(f.dir / ("agent-1/workspaces/" + id + "/stop"));
  for (const auto& id : ids) REQUIRE(f.tasks->WaitState(id, "succeeded", 60s));
  // Every lease closed and settled: nothing more is on its way.
  REQUIRE(WaitUntil([&] { return Count(f.db(), "SELECT COUNT(*) FROM leases") == 0; }, 60s));

  const UsageTally tally = f.anthropic.Tally();
  for (const auto& r : f.anthropic.requests()) {
    if (r.answer == "side_text") REQUIRE(r.usage.input == kInputTokens);
  }
  const LedgerRows ledger = ReadLedger(f.db());
  auto plan = meter::PlanCall(meter::Api::kMessages, kBody, meter::PriceTable::BuiltIn());
  REQUIRE(plan);
  INFO("provider served " << tally.calls << " calls; ledger: " << ledger.real_calls << " real, "
                          << ledger.estimated_calls << " estimated, " << ledger.corrected
                          << " estimates corrected by their records");
  // Each real record is the provider's own figures, to the token, and no call is in it twice.
  CHECK(ledger.real_input == ledger.real_calls * kInputTokens);
  CHECK(ledger.real_output == ledger.real_calls * kOutputTokens);
  CHECK(ledger.real_calls <= tally.calls);
  // Every call the provider served is charged: by its record, or (its record died with the
  // agent) by an estimate of its whole reservation. So the ledger's tokens are the tally's,
  // but for calls charged as estimates.
  const int64_t served_unrecorded = tally.calls - ledger.real_calls;
  CHECK(served_unrecorded <= ledger.estimated_calls);
  CHECK(ledger.real_input + served_unrecorded * kInputTokens == tally.input_tokens);
  CHECK(ledger.real_output + served_unrecorded * kOutputTokens == tally.output_tokens);
  // Estimates beyond those are calls in flight at a kill that had not reached the provider:
  // at most one per task at each kill (a tool that hung up has gone on to its next call while
  // the proxy reads the last one on, so more than one of a task's calls may have been served).
  CHECK(ledger.estimated_calls - served_unrecorded <= 2 * kTasks);
  for (const auto& [cost, tokens] : ledger.estimates) {
    CHECK(cost == plan->worst.usd_micros);
    CHECK(tokens == plan->worst.tokens);
  }
  // What the budget says was spent is the ledger's sum: corrections replaced, never added.
  const json::object usage = f.controller->GetJson("/v1/projects/demo/usage").as_object();
  int64_t spent = -1;
  for (const auto& b : usage.at("budgets").as_array()) {
    if (b.at("resource").as_string() == "usd") {
      spent = std::llround(std::stod(std::string(b.at("spent").as_string())) * 1e6);
    }
  }
  const int64_t all_cost =
      Count(f.db(), "SELECT COALESCE(SUM(cost_micros), 0) FROM usage_records WHERE project='demo'");
  CHECK(spent == all_cost);
  CHECK(ledger.cost <= all_cost);
}
