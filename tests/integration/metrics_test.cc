// The controller's and the agent's /metrics after real work: real nats-server, controller and
// agent processes; tasks call the agent's metering proxy, which forwards to the fake Anthropic
// provider (tests/fakes: a real one cannot be called here). What a user would check: the spend
// equals the ledger's, a histogram counts every task, the agent's calls equal the provider's,
// nothing secret is shown; and every series the Grafana dashboard and the alert rules name is
// one a running controller or agent exports.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/budget/amounts.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/prom_text.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kAnthropicKey = "sk-ant-REAL-metrics-0001";
constexpr const char* kPromptMarker = "PROMPT-MARKER-7f3a";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fleet of one agent whose metrics listen on a loopback port.
struct MetricsFleet {
  FakeAnthropic anthropic{FakeAnthropicScript{.api_key = kAnthropicKey}};
  TempDir dir;
  NatsServer nats{dir / "nats"};
  uint16_t agent_port = FreePort();
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<TaskClient> tasks;
  std::string machine_id;

  MetricsFleet() {
    REQUIRE(anthropic.Start());
    std::filesystem::create_directories(dir / "home");
    controller = std::make_unique<ControllerProcess>(dir / "controller", nats.url());
    tasks = std::make_unique<TaskClient>(*controller);
    agent = std::make_unique<AgentProcess>(
        "agent-1", dir / "agent-1", nats.url(),
        std::vector<std::string>{"--upstream", "anthropic=" + anthropic.url(), "--task-slots", "3",
                                 "--metrics-listen", "127.0.0.1:" + std::to_string(agent_port)},
        std::map<std::string, std::string>{{"HOME", dir / "home"},
                                           {"ANTHROPIC_API_KEY", kAnthropicKey}});
    REQUIRE(WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          if (!m || m->at("state").as_string() != "ready") return false;
          machine_id = std::string(m->at("id").as_string());
          return true;
        },
        15s));
    tasks->CreateProject("demo");
  }

  Result<HttpReply> AgentCall(const std::string& method, const std::string& path) {
    return SendHttp(
        HttpCall{.method = method, .url = "http://127.0.0.1:" + std::to_string(agent_port) + path});
  }
  std::string AgentMetricsText() {
    auto r = AgentCall("GET", "/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK_THAT(r->content_type, Catch::StartsWith("text/plain"));
    return r->body;
  }
  std::string ControllerMetricsText() {
    auto r = controller->Call("GET", "/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return r->body;
  }
  PromText Agent() { return ParsePromText(AgentMetricsText()); }
  PromText Controller() { return ParsePromText(ControllerMetricsText()); }
};

// A task whose tool makes one call through the proxy, shows its proxy token, and changes its
// workspace (so its end takes a checkpoint).
std::string OneCallTask(TaskClient& tasks) {
  const std::string call =
      std::string(
          "curl -sS \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: "
          "$ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' -H "
          "'content-type: application/json' -d '{\"model\":\"claude-sonnet-4-5\","
          "\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"") +
      kPromptMarker + "\"}]}'";
  return tasks.SubmitShell(
      "demo", {"sh", "-c", "set -e; echo token=$ANTHROPIC_API_KEY; " + call + "; echo done > out"});
}

// `promtool check metrics` (format and naming lint) of `text`; skipped where promtool is
// absent (Debian package prometheus).
void CheckWithPromtool(const std::string& text, const std::string& where) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool is not installed (Debian package prometheus): " << where << " not linted by it");
    return;
  }
  TempDir tmp;
  std::ofstream(tmp / "metrics.txt") << text;
  const std::string cmd =
      "promtool check metrics < " + (tmp / "metrics.txt") + " > " + (tmp / "out.txt") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(where << ": " << ReadAll(tmp / "out.txt"));
  CHECK(rc == 0);
}

int64_t UsdMicros(double dollars) { return std::llround(dollars * 1e6); }

}  // namespace

TEST_CASE("after three tasks both /metrics show what the ledger, the provider and the API show",
          "[metrics]") {
  MetricsFleet f;
  auto budget =
      f.controller->Call("PUT", "/v1/projects/demo/budgets", std::nullopt,
                         R"({"budgets":[{"resource":"usd","limit":"5.00","period":"total"}]})");
  REQUIRE(budget);
  REQUIRE(budget->status == 200);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(OneCallTask(*f.tasks));
  for (const auto& id : ids) REQUIRE(f.tasks->WaitState(id, "succeeded", 30s));
  // Usage records and checkpoints travel through JetStream: wait until the ledger has the
  // three calls and the catalogue the three task_end checkpoints.
  auto ledger = [&] {
    auto rows = f.controller->GetJson("/v1/usage?project=demo").at("rows").as_array();
    return rows.empty() ? json::object{} : rows[0].as_object();
  };
  REQUIRE(WaitUntil(
      [&] {
        auto t = ledger();
        return !t.empty() && t.at("calls").to_number<int64_t>() == 3;
      },
      15s));
  // Each task changed its workspace: at least one checkpoint each (after its LLM response, at
  // its end, or both), and the catalogue, the controller's count and the agent's agree.
  auto catalogued = [&] {
    return f.controller->GetJson("/v1/checkpoints").at("checkpoints").as_array().size();
  };
  REQUIRE(WaitUntil(
      [&] {
        const double taken = f.Controller().Sum("autovibe_checkpoints_taken_total");
        return catalogued() >= 3 && taken == catalogued() &&
               f.Agent().Sum("autovibe_agent_checkpoint_seconds_count") == taken;
      },
      15s));
  // Leases close once the tasks' records are in; the outbox empties.
  REQUIRE(WaitUntil([&] { return f.Controller().Value("autovibe_leases_outstanding") == 0; }, 15s));
  REQUIRE(WaitUntil([&] { return f.Agent().Value("autovibe_agent_outbox_depth") == 0; }, 15s));

  const std::string controller_text = f.ControllerMetricsText();
  const PromText c = ParsePromText(controller_text);
  INFO(controller_text);
  CHECK(c.errors.empty());
  const json::object total = ledger();
  const int64_t ledger_usd = *ParseUsd(std::string(total.at("usd").as_string()));
  REQUIRE(ledger_usd > 0);
  const std::map<std::string, std::string> demo_usd{{"project", "demo"}, {"resource", "usd"}};
  CHECK(UsdMicros(*c.Value("autovibe_project_spent_total", demo_usd)) == ledger_usd);
  CHECK(c.Value("autovibe_project_spent_total", {{"project", "demo"}, {"resource", "api_calls"}}) ==
        3);
  auto demo_usd_total = demo_usd;
  demo_usd_total["period"] = "total";
  CHECK(c.Value("autovibe_budget_limit", demo_usd_total) == 5);
  CHECK(UsdMicros(*c.Value("autovibe_budget_spent", demo_usd_total)) == ledger_usd);
  CHECK(c.Value("autovibe_budget_exhausted", demo_usd_total) == 0);
  CHECK(c.Value("autovibe_budget_reserved", demo_usd) == 0);
  // Every task counted once, in both histograms.
  CHECK(c.Value("autovibe_task_duration_seconds_count", {{"state", "succeeded"}}) == 3);
  CHECK(c.Value("autovibe_task_submit_to_running_seconds_count") == 3);
  CHECK(c.Value("autovibe_tasks", {{"state", "succeeded"}}) == 3);
  // The checkpoints the catalogue lists.
  CHECK(c.Sum("autovibe_checkpoints_taken_total") == catalogued());
  CHECK(c.Value("autovibe_checkpoints") == catalogued());
  CHECK(c.Value("autovibe_checkpoint_bytes_stored_total") > 0);
  // API latency counts every answer its route's request counter counts.
  for (const std::string route : {"/v1/tasks", "/v1/projects/{name}/budgets"}) {
    INFO(route);
    CHECK(c.Sum("autovibe_api_requests_total", {{"route", route}}) > 0);
    CHECK(c.Value("autovibe_api_request_duration_seconds_count", {{"route", route}}) ==
          c.Sum("autovibe_api_requests_total", {{"route", route}}));
  }
  // The machine's resources as its heartbeats (and the API) say.
  const json::object m = f.controller->Machine("agent-1");
  const json::object& res = m.at("resources").as_object();
  const std::map<std::string, std::string> machine{{"machine", f.machine_id}, {"name", "agent-1"}};
  CHECK(c.Value("autovibe_machine_cpu_cores", machine) == res.at("cpu_cores").to_number<double>());
  CHECK(c.Value("autovibe_machine_memory_total_bytes", machine) ==
        res.at("mem_total_bytes").to_number<double>());
  CHECK(c.Value("autovibe_machine_disk_total_bytes", machine) ==
        res.at("disk_total_bytes").to_number<double>());
  CHECK(c.Value("autovibe_machine_last_heartbeat_timestamp_seconds", machine) > 0);
  CHECK(c.Value("autovibe_machine_info", {{"machine", f.machine_id}, {"state", "ready"}}) == 1);
  CheckWithPromtool(controller_text, "the controller's /metrics");

  const std::string agent_text = f.AgentMetricsText();
  const PromText a = ParsePromText(agent_text);
  INFO(agent_text);
  CHECK(a.errors.empty());
  // The proxy's calls are the provider's.
  REQUIRE(f.anthropic.Tally().calls == 3);
  CHECK(a.Value("autovibe_agent_proxy_calls_total",
                {{"provider", "anthropic"}, {"status", "ok"}}) == 3);
  CHECK(a.Sum("autovibe_agent_proxy_calls_total") == 3);
  CHECK(a.Value("autovibe_agent_proxy_added_latency_seconds_count") == 3);
  CHECK(a.Value("autovibe_agent_lease_requests_total", {{"outcome", "granted"}}) >= 3);
  CHECK(a.Value("autovibe_agent_lease_requests_total", {{"outcome", "exhausted"}}) == 0);
  CHECK(a.Value("autovibe_agent_leases_open") == 0);
  CHECK(a.Sum("autovibe_agent_checkpoint_seconds_count") == catalogued());
  CHECK(a.Value("autovibe_agent_outbox_published_total") > 0);
  CHECK(a.Value("autovibe_agent_tasks_running") == 0);
  CHECK(a.Value("autovibe_agent_info", {{"machine", f.machine_id}, {"name", "agent-1"}}) == 1);
  CheckWithPromtool(agent_text, "the agent's /metrics");

  // Nothing secret: not the provider's key, not a task's proxy token, not a prompt.
  const std::string log = f.tasks->Logs(ids[0]);
  const auto at = log.find("token=");
  REQUIRE(at != std::string::npos);
  const std::string token = log.substr(at + 6, log.find('\n', at) - at - 6);
  REQUIRE(token.size() > 8);
  for (const std::string* text : {&agent_text, &controller_text}) {
    CHECK_THAT(*text, !Catch::Contains(kAnthropicKey) && !Catch::Contains(token) &&
                          !Catch::Contains(kPromptMarker));
  }
}

TEST_CASE("the agent's metrics port is read-only and answers only GET /metrics", "[metrics]") {
  MetricsFleet f;
  auto post = f.AgentCall("POST", "/metrics");
  REQUIRE(post);
  CHECK(post->status == 405);
  auto other = f.AgentCall("GET", "/v1/messages");
  REQUIRE(other);
  CHECK(other->status == 404);
  auto root = f.AgentCall("GET", "/");
  REQUIRE(root);
  CHECK(root->status == 404);
  // Still serving after those.
  CHECK(f.Agent().Value("autovibe_agent_outbox_depth"));
}

TEST_CASE("an agent asked to serve metrics off loopback refuses to start, saying why",
          "[metrics]") {
  TempDir dir;
  ChildProcess agent({BinPath("autovibe-agent"), "--name", "m1", "--data-dir", dir / "data",
                      "--nats", "nats://127.0.0.1:1", "--metrics-listen", "0.0.0.0:9464"},
                     dir / "agent.log");
  const int code = agent.Wait(10s);
  CHECK(code != 0);
  CHECK(code != -1);
  CHECK_THAT(agent.Log(),
             Catch::Contains("not a loopback address") && Catch::Contains("metrics_allow_remote"));
}

namespace {

// Strings under the keys that hold PromQL in a Grafana dashboard: targets' expr, variables'
// query and definition.
void CollectQueries(const json::value& v, bool wanted, std::vector<std::string>& out) {
  if (v.is_string()) {
    if (wanted) out.emplace_back(v.as_string());
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) CollectQueries(e, wanted, out);
  } else if (v.is_object()) {
    for (const auto& [k, e] : v.as_object()) {
      CollectQueries(e, wanted || k == "expr" || k == "query" || k == "definition", out);
    }
  }
}

// The `expr:` values of a rules file (one line, or a block scalar's more-indented lines).
std::vector<std::string> RuleExpressions(const std::string& yaml) {
  std::vector<std::string> out;
  std::istringstream in(yaml);
  std::string line;
  size_t indent = std::string::npos;
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(' ');
    if (indent != std::string::npos && first != std::string::npos && first > indent) {
      out.back() += " " + line.substr(first);
      continue;
    }
    indent = std::string::npos;
    if (first != std::string::npos && line.compare(first, 5, "expr:") == 0) {
      out.push_back(line.substr(first + 5));
      indent = first;
    }
  }
  return out;
}

std::set<std::string> MetricNames(const std::vector<std::string>& queries) {
  static const std::regex kName("autovibe_[a-z0-9_]+");
  std::set<std::string> out;
  for (const auto& q : queries) {
    for (auto it = std::sregex_iterator(q.begin(), q.end(), kName); it != std::sregex_iterator();
         ++it) {
      out.insert(it->str());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every series the Grafana dashboard and the alert rules name is exported", "[metrics]") {
  const std::string root = AV_SOURCE_DIR;
  std::vector<std::string> dashboard;
  CollectQueries(json::parse(ReadAll(root + "/templates/grafana/autovibe.json")), false, dashboard);
  const std::vector<std::string> rules =
      RuleExpressions(ReadAll(root + "/templates/prometheus/alerts.yml"));
  const std::set<std::string> dashboard_names = MetricNames(dashboard);
  const std::set<std::string> rule_names = MetricNames(rules);
  // What the templates are about: they cannot pass by naming nothing.
  CHECK(dashboard.size() >= 40);
  CHECK(dashboard_names.size() >= 30);
  CHECK(rules.size() == 5);
  CHECK(rule_names.size() >= 6);

  MetricsFleet f;
  // One task, so that every labelled histogram has a series.
  REQUIRE(f.tasks->WaitState(OneCallTask(*f.tasks), "succeeded", 30s));
  std::set<std::string> exported = f.Controller().Names();
  exported.merge(f.Agent().Names());
  for (const std::set<std::string>* names : {&dashboard_names, &rule_names}) {
    for (const std::string& name : *names) {
      INFO(name << (names == &rule_names ? " (alerts.yml)" : " (autovibe.json)"));
      CHECK(exported.contains(name));
    }
  }
}
