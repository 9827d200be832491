// Metering and hard budgets through the whole fleet: real nats-server, controller and agent
// processes; tools (shell scripts with curl, and the real Claude Code CLI) call the agent's
// metering proxy, which forwards to fake Anthropic and OpenAI upstreams (tests/fakes) that
// stream and report usage like the real ones and keep their own tally.
#include <signal.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "common/budget/amounts.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_openai.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"
#include "worker-agent/meter/prices.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kAnthropicKey = "sk-ant-REAL-do-not-leak-0001";
constexpr const char* kOpenAiKey = "sk-openai-REAL-do-not-leak-0002";
constexpr const char* kModel = "claude-sonnet-4-5";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A webhook receiver: counts what the controller posts.
class Webhook {
 public:
  Webhook() {
    REQUIRE(server_.Start("127.0.0.1", 0, [this](const HttpRequest& req) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      return HttpResponse{.status = 200, .body = "ok"};
    }));
  }
  std::string url() const { return server_.url() + "/hook"; }
  std::vector<json::object> Posts() const {
    std::lock_guard lock(mu_);
    std::vector<json::object> out;
    for (const auto& b : bodies_) out.push_back(json::parse(b).as_object());
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  FakeServerThread server_;
};

struct MeteredFleet {
  FakeAnthropic anthropic;
  FakeOpenAI openai;
  Webhook webhook;
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<TaskClient> tasks;

  // `stop_delay`: how long a tool stopped for its budget may take to show the refusal.
  explicit MeteredFleet(FakeAnthropicScript script = {}, std::string lease_ttl = "30s",
                        std::string stop_delay = "100ms")
      : anthropic(WithKey(std::move(script))), openai(FakeOpenAIOptions{.api_key = kOpenAiKey}) {
    REQUIRE(anthropic.Start());
    REQUIRE(openai.Start());
    std::filesystem::create_directories(dir / "home");
    std::ofstream(dir / "controller.toml") << "lease_ttl = \"" << lease_ttl << "\"\n"
                                           << "alert_webhook = \"" << webhook.url() << "\"\n";
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--config", dir / "controller.toml"});
    tasks = std::make_unique<TaskClient>(*controller);
    std::ofstream(dir / "agent.toml") << "[meter]\nstop_delay = \"" << stop_delay << "\"\n";
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(),
        std::vector<std::string>{"--config", dir / "agent.toml", "--upstream",
                                 "anthropic=" + anthropic.url(), "--upstream",
                                 "openai=" + openai.url() + "/v1", "--task-slots", "4"},
        std::map<std::string, std::string>{{"HOME", dir / "home"},
                                           {"ANTHROPIC_API_KEY", kAnthropicKey},
                                           {"OPENAI_API_KEY", kOpenAiKey}});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          return m && m->at("state").as_string() == "ready";
        },
        15s));
    tasks->CreateProject("demo");
  }

  static FakeAnthropicScript WithKey(FakeAnthropicScript s) {
    s.api_key = kAnthropicKey;
    return s;
  }

  void SetBudgets(json::array budgets) {
    auto r = controller->Call("PUT", "/v1/projects/demo/budgets", std::nullopt,
                              json::serialize(json::object{{"budgets", std::move(budgets)}}));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
  }

  json::object Usage() { return controller->GetJson("/v1/projects/demo/usage").as_object(); }
  json::object Totals(const std::string& query = "") {
    auto rows = controller->GetJson("/v1/usage?project=demo" + query).at("rows").as_array();
    return rows.empty() ? json::object{} : rows[0].as_object();
  }
  int64_t LedgerCalls() {
    auto t = Totals();
    return t.empty() ? 0 : t.at("calls").to_number<int64_t>();
  }
  // The budget row of `resource` in the project's usage.
  json::object BudgetRow(const std::string& resource) {
    const json::object usage = Usage();
    for (const auto& b : usage.at("budgets").as_array()) {
      if (b.at("resource").as_string() == resource) return b.as_object();
    }
    return {};
  }
};

// A shell script that calls the proxy with curl (what any tool, curl included, sees).
std::string AnthropicCall(bool stream, int max_tokens = 64) {
  return std::string("curl -sS -N \"$ANTHROPIC_BASE_URL/v1/messages?beta=true\" ") +
         "-H \"x-api-key: $ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' " +
         "-H 'content-type: application/json' -d '{\"model\":\"" + kModel +
         "\",\"max_tokens\":" + std::to_string(max_tokens) +
         ",\"stream\":" + (stream ? "true" : "false") +
         ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'";
}

std::string OpenAiCall(const std::string& route, bool stream) {
  const std::string body = route == "chat/completions"
                               ? std::string("{\"model\":\"gpt-4.1-mini\",\"stream\":") +
                                     (stream ? "true" : "false") +
                                     ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
                               : std::string("{\"model\":\"gpt-4.1-mini\",\"stream\":") +
                                     (stream ? "true" : "false") + ",\"input\":\"hi\"}";
  return "curl -sS -N \"$OPENAI_BASE_URL/" + route +
         "\" -H \"Authorization: Bearer $OPENAI_API_KEY\" -H 'content-type: application/json' "
         "-d '" +
         body + "'";
}

// What the proxy charges for calls the provider reported: each call priced on its own (and
// rounded up to a micro-dollar) at the built-in price of its model.
template <class Request>
int64_t CostOf(const std::vector<Request>& requests) {
  int64_t sum = 0;
  for (const auto& r : requests) {
    if (r.model.empty() || r.usage.total() == 0) continue;
    auto price = meter::PriceTable::BuiltIn().Find(r.model);
    REQUIRE(price);
    sum += meter::PriceTable::Cost(
        *price, {r.usage.input, r.usage.output, r.usage.cache_write, r.usage.cache_read});
  }
  return sum;
}

}  // namespace

TEST_CASE("every call through the proxy is in the ledger to the token and no real key leaks",
          "[budget]") {
  MeteredFleet f;
  const std::string script = "set -e; env; " + AnthropicCall(true) + "; " + AnthropicCall(false) +
                             "; " + OpenAiCall("chat/completions", true) + "; " +
                             OpenAiCall("chat/completions", false) + "; " +
                             OpenAiCall("responses", true) + "; " + OpenAiCall("responses", false);
  const std::string id = f.tasks->SubmitShell("demo", {"sh", "-c", script});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 30s));
  // Usage records travel through JetStream: poll until all six calls are in.
  REQUIRE(WaitUntil([&] { return f.LedgerCalls() == 6; }, 10s));

  const UsageTally a = f.anthropic.Tally();
  const UsageTally o = f.openai.Tally();
  CHECK(a.calls == 2);
  CHECK(o.calls == 4);
  const json::object total = f.Totals();
  CHECK(total.at("input_tokens").to_number<int64_t>() == a.input_tokens + o.input_tokens);
  CHECK(total.at("output_tokens").to_number<int64_t>() == a.output_tokens + o.output_tokens);
  CHECK(total.at("cache_write_tokens").to_number<int64_t>() ==
        a.cache_write_tokens + o.cache_write_tokens);
  CHECK(total.at("cache_read_tokens").to_number<int64_t>() ==
        a.cache_read_tokens + o.cache_read_tokens);
  const int64_t cost = CostOf(f.anthropic.requests()) + CostOf(f.openai.requests());
  CHECK(*ParseUsd(std::string(total.at("usd").as_string())) == cost);
  // By model: one row per model (and one for the tool's time, which has none).
  auto by_model = f.controller->GetJson("/v1/usage?project=demo&group_by=model");
  std::set<std::string> models;
  for (const auto& row : by_model.at("rows").as_array()) {
    if (row.at("calls").to_number<int64_t>() > 0)
      models.insert(std::string(row.at("key").as_string()));
  }
  CHECK(models == std::set<std::string>{kModel, "gpt-4.1-mini"});

  // The providers saw the real keys; the tool, its log, the API and the agent's log never did.
  for (const auto& r : f.anthropic.requests()) {
    if (r.answer != "root") CHECK(r.x_api_key == kAnthropicKey);
  }
  const std::string logs = f.tasks->Logs(id);
  CHECK_THAT(logs, Catch::Contains("ANTHROPIC_API_KEY="));
  CHECK_THAT(logs, !Catch::Contains(kAnthropicKey) && !Catch::Contains(kOpenAiKey));
  for (const std::string& path :
       {"/v1/tasks/" + id, "/v1/tasks/" + id + "/logs", std::string("/v1/usage?group_by=task"),
        std::string("/v1/projects/demo/usage")}) {
    auto r = f.controller->Call("GET", path);
    REQUIRE(r);
    CHECK_THAT(r->body, !Catch::Contains(kAnthropicKey) && !Catch::Contains(kOpenAiKey));
  }
  CHECK_THAT(f.agent->process().Log(),
             !Catch::Contains(kAnthropicKey) && !Catch::Contains(kOpenAiKey));
}

TEST_CASE("a call without the task's token is refused and reaches no provider", "[budget]") {
  MeteredFleet f;
  const std::string id = f.tasks->SubmitShell(
      "demo", {"sh", "-c",
               "curl -s -o /dev/null -w '%{http_code}\\n' \"$ANTHROPIC_BASE_URL/v1/messages\" "
               "-H 'x-api-key: stolen' -d '{}'"});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 30s));
  CHECK_THAT(f.tasks->Logs(id), Catch::Contains("401"));
  CHECK(f.anthropic.Tally().calls == 0);
}

TEST_CASE("64 concurrent callers against a tiny cap never spend past it", "[budget]") {
  MeteredFleet f;
  f.SetBudgets({{{"resource", "usd"}, {"limit", "0.05"}, {"on_exhaust", "stop"}}});
  // 64 callers at once, 2,000 calls in all, until the budget says no.
  const std::string id = f.tasks->SubmitShell(
      "demo",
      {"sh", "-c", "seq 1 2000 | xargs -P 64 -I{} sh -c \"$CALL >/dev/null 2>&1\"; echo done"},
      {{"env", {{"CALL", AnthropicCall(true)}}}});
  REQUIRE(f.tasks->WaitState(id, "cancelled", 60s));
  CHECK_THAT(std::string(f.tasks->Task(id).at("reason").as_string()),
             Catch::Contains("budget usd"));
  // Once the records are in: the ledger equals the provider's tally, and stays within $0.05.
  REQUIRE(WaitUntil([&] { return f.LedgerCalls() == f.anthropic.Tally().calls; }, 10s));
  const UsageTally a = f.anthropic.Tally();
  CHECK(a.calls > 0);
  CHECK(a.calls < 2000);
  const int64_t upstream_cost = CostOf(f.anthropic.requests());
  CHECK(upstream_cost <= 50'000);
  const json::object row = f.BudgetRow("usd");
  CHECK(*ParseUsd(std::string(row.at("spent").as_string())) == upstream_cost);
  CHECK(*ParseUsd(std::string(row.at("spent").as_string())) <= 50'000);
  CHECK(row.at("exhausted").as_bool());
}

TEST_CASE("a paused task continues in its workspace when the limit is raised", "[budget]") {
  MeteredFleet f;
  f.SetBudgets({{{"resource", "api_calls"}, {"limit", 3}, {"on_exhaust", "pause"}}});
  // Writes a file, then calls until refused; on the resumed run the file is still there.
  const std::string id = f.tasks->SubmitShell(
      "demo", {"sh", "-c",
               "if [ -f first-run ]; then echo resumed-with-workspace; exit 0; fi; "
               "touch first-run; while " +
                   AnthropicCall(false) +
                   " | grep -q '\"type\":\"message\"'; do :; done; echo refused; sleep 30"});
  REQUIRE(f.tasks->WaitState(id, "paused", 30s));
  CHECK_THAT(std::string(f.tasks->Task(id).at("reason").as_string()),
             Catch::Contains("budget api_calls"));
  CHECK(f.anthropic.Tally().calls == 3);
  f.SetBudgets({{{"resource", "api_calls"}, {"limit", 10}, {"on_exhaust", "pause"}}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 30s));
  const json::object t = f.tasks->Task(id);
  CHECK(t.at("attempts").as_int64() == 2);
  CHECK_THAT(f.tasks->Logs(id), Catch::Contains("resumed-with-workspace"));
}

TEST_CASE("each budget alert fires once and reaches the webhook", "[budget]") {
  MeteredFleet f;
  f.SetBudgets({{{"resource", "api_calls"},
                 {"limit", 4},
                 {"alert_at", json::array{50, 75}},
                 {"on_exhaust", "stop"}}});
  const std::string id = f.tasks->SubmitShell(
      "demo", {"sh", "-c", "for i in 1 2 3 4 5 6; do " + AnthropicCall(false) + "; done"});
  REQUIRE(f.tasks->WaitState(id, "cancelled", 30s));
  REQUIRE(WaitUntil([&] { return f.webhook.Posts().size() >= 3; }, 10s));
  std::vector<int64_t> thresholds;
  for (const auto& p : f.webhook.Posts()) {
    thresholds.push_back(p.at("details").at("threshold").to_number<int64_t>());
    CHECK_THAT(std::string(p.at("text").as_string()), Catch::Contains("demo"));
  }
  std::sort(thresholds.begin(), thresholds.end());
  CHECK(thresholds == std::vector<int64_t>{50, 75, 100});
  auto alerts = f.controller->GetJson("/v1/alerts?project=demo").at("alerts").as_array();
  CHECK(alerts.size() == 3);
}

TEST_CASE("project stop halts every task at once and resume releases them", "[budget]") {
  MeteredFleet f;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {  // 4 slots: 4 run, 2 wait
    ids.push_back(f.tasks->SubmitShell("demo", {"sh", "-c", "pwd > pid; exec sleep 600"}));
  }
  REQUIRE(WaitUntil(
      [&] {
        int running = 0;
        for (const auto& id : ids) running += f.tasks->State(id) == "running";
        return running == 4;
      },
      20s));
  // Where each running tool works: a boxed tool's pid is its own namespace's.
  std::vector<std::string> workspaces;
  for (const auto& id : ids) {
    if (f.tasks->State(id) != "running") continue;
    const std::string pidfile = f.dir / "agent-1/workspaces/" + id + "/pid";
    REQUIRE(WaitUntil([&] { return !ReadAll(pidfile).empty(); }, 5s));
    workspaces.push_back(f.dir / "agent-1/workspaces/" + id);
  }
  auto r = f.controller->Call("POST", "/v1/projects/demo/stop");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const json::object stopped = json::parse(r->body).as_object();
  CHECK(stopped.at("paused_tasks").as_int64() == 4);
  CHECK(stopped.at("held_tasks").as_int64() == 2);
  CHECK(WaitUntil(
      [&] {
        for (const auto& w : workspaces) {
          if (AnyProcessIn(w)) return false;
        }
        return true;
      },
      5s));
  for (const auto& id : ids) CHECK(f.tasks->WaitState(id, "paused", 10s));
  // New work waits too.
  const std::string later = f.tasks->SubmitShell("demo", {"true"});
  CHECK(f.tasks->WaitState(later, "paused", 10s));

  r = f.controller->Call("POST", "/v1/projects/demo/resume");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(json::parse(r->body).at("resumed_tasks").as_int64() == 7);
  // The stopped tools may still be dying when the tasks are released: a task the agent turns
  // away meanwhile (its slots still taken) makes the controller rest the machine, up to 30 s.
  CHECK(WaitUntil(
      [&] {
        int running = 0;
        for (const auto& id : ids) running += f.tasks->State(id) == "running";
        return running == 4;
      },
      60s));
  CHECK(f.tasks->State(later) == "queued");  // released, waiting for a slot
  CHECK(f.tasks->Task(later).at("reason").as_string() == "");
}

TEST_CASE("claude-code shows the budget's 429 and pauses, then resumes its session when raised",
          "[budget][claude]") {
  // The CLI gets up to 10 s (the most an agent allows) from its refused call to show the refusal
  // and exit by itself (it does at once when the machine is idle).
  MeteredFleet f(FakeAnthropicScript{.write_file = "hello.txt",
                                     .content = "hello from a metered fleet\n",
                                     .final_text = "Created hello.txt."},
                 "30s", "10s");
  // One call fits: the next one finds the budget used up.
  f.SetBudgets({{{"resource", "api_calls"}, {"limit", 1}, {"on_exhaust", "pause"}}});
  const std::string id = f.tasks->Submit({{"project", "demo"},
                                          {"tool", "claude-code"},
                                          {"prompt", "Create hello.txt saying hello."},
                                          {"options", {{"max_turns", "5"}}},
                                          {"timeout_s", 120}});
  REQUIRE(f.tasks->WaitState(id, "paused", 90s));
  // The CLI itself reports the proxy's answer (which budget ran out) before it is stopped; its
  // output follows the pause through the event stream.
  std::string logs;
  const bool shown = WaitUntil(
      [&] {
        logs = f.tasks->Logs(id);
        return logs.find("\"type\":\"result\"") != std::string::npos;
      },
      30s);
  INFO("logs:\n" << logs);
  CHECK(shown);
  CHECK_THAT(logs, Catch::Contains("429") && Catch::Contains("budget api_calls"));
  CHECK_THAT(std::string(f.tasks->Task(id).at("reason").as_string()),
             Catch::Contains("budget api_calls"));
  // The agent's report of the stopped run (its session) follows the pause.
  std::string session;
  CHECK(WaitUntil(
      [&] {
        session = f.tasks->Task(id).at("report").at("session_id").as_string();
        return session.size() >= 8;
      },
      10s));

  f.SetBudgets({{{"resource", "api_calls"}, {"limit", 50}, {"on_exhaust", "pause"}}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 90s));
  CHECK(f.tasks->Task(id).at("attempts").as_int64() == 2);
  CHECK(ReadAll(f.dir / "agent-1/workspaces/" + id + "/hello.txt") ==
        "hello from a metered fleet\n");
  // The second run continued the first one's conversation.
  CHECK_THAT(f.tasks->Logs(id), Catch::Contains("\"session_id\":\"" + session + "\""));
}

TEST_CASE("claude-code on its default model runs its task within a $1.00 budget",
          "[budget][claude]") {
  // Each of Claude Code's calls asks for tens of thousands of output tokens: at Opus prices
  // more than the whole budget. The first call is reserved by the provider's token count, and
  // calls go with the output limit the budget covers instead of pausing the task.
  MeteredFleet f(FakeAnthropicScript{.write_file = "hello.txt",
                                     .content = "hello within budget\n",
                                     .final_text = "Created hello.txt."});
  f.SetBudgets({{{"resource", "usd"}, {"limit", 1.00}, {"on_exhaust", "pause"}}});
  const std::string id = f.tasks->Submit({{"project", "demo"},
                                          {"tool", "claude-code"},
                                          {"prompt", "Create hello.txt saying hello."},
                                          {"options", {{"max_turns", "5"}}},
                                          {"timeout_s", 120}});
  REQUIRE(f.tasks->WaitState(id, "succeeded", 90s));
  INFO(f.tasks->Logs(id));
  CHECK(ReadAll(f.dir / "agent-1/workspaces/" + id + "/hello.txt") == "hello within budget\n");
  CHECK(f.anthropic.CountAnswers("count_tokens") >= 1);
  // The calls that could not have been covered in full went with a lower output limit.
  bool lowered = false;
  for (const FakeAnthropicRequest& r : f.anthropic.requests()) {
    if (r.answer == "count_tokens" || r.model.empty()) continue;
    const auto limit = json::parse(r.body).at("max_tokens").to_number<int64_t>();
    lowered |= limit < 32'000;
    CHECK(limit >= 4096);
  }
  CHECK(lowered);
  const json::object total = f.Totals();
  INFO(json::serialize(total));
  CHECK(f.LedgerCalls() >= 2);
  CHECK(*ParseUsd(std::string(total.at("usd").as_string())) <= 1'000'000);
}

TEST_CASE("with the controller killed a task spends only what its lease holds", "[budget]") {
  MeteredFleet f({}, "2s");
  const std::string id = f.tasks->SubmitShell(
      "demo",
      {"sh", "-c", "while true; do " + AnthropicCall(false) + " >/dev/null; sleep 0.05; done"});
  REQUIRE(WaitUntil([&] { return f.LedgerCalls() >= 3; }, 20s));
  f.controller->process().Signal(SIGKILL);
  REQUIRE(f.controller->process().Wait(5s) >= 0);
  // Cut off from the controller the agent cannot renew the lease: within its 2 s the calls
  // stop reaching the provider (the proxy answers 503), though the tool keeps trying.
  int64_t last = -1;
  auto stable_since = std::chrono::steady_clock::now();
  const bool stopped = WaitUntil(
      [&] {
        const int64_t now = f.anthropic.Tally().calls;
        if (now != last) {
          last = now;
          stable_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - stable_since > 3s;
      },
      20s, 100ms);
  REQUIRE(stopped);
  // What was spent stays within what the controller had granted (as its database holds it).
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((f.dir / "controller/controller.db").c_str(), &db, SQLITE_OPEN_READONLY,
                          nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT COALESCE(SUM(granted_usd_micros), 0), "
                             "COALESCE(SUM(granted_api_calls), 0) FROM leases WHERE task_id = ?1",
                             -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t granted_usd = sqlite3_column_int64(st, 0);
  const int64_t granted_calls = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  const int64_t spent = CostOf(f.anthropic.requests());
  INFO("spent " << spent << " of granted " << granted_usd << "; calls " << last << " of "
                << granted_calls);
  CHECK(spent > 0);
  CHECK(spent <= granted_usd);
  CHECK(last <= granted_calls);
}
