// budget_bench: how hard the budgets are.
//  - Overshoot: 64 concurrent streaming clients hammer one task's proxy token against a $1.00
//    cap (action stop) until the proxy refuses them; once every usage record is in, the settled
//    spend minus the limit. Target: exactly 0 (LiteLLM's issues #34732 and #6288 show its
//    overshoot growing with concurrency).
//  - Stop latency: from the call that exhausts a budget (the client holding the 429), or from
//    `POST /v1/projects/P/stop`, until every tool process of the project is gone. Target: p99
//    under 250 ms.
//  - Reservations: reserved/actual per call over a recorded multi-turn Claude Code session
//    (reservation_replay.h), with request bytes and with the known prefix as the input bound.
//    Target: a median under 1.5.
// Real nats-server, controller and agent on loopback; the fake Anthropic API as upstream.
// Run it with ./scripts/bench.sh budget.
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <thread>

#include "common/budget/amounts.h"
#include "common/core/log.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/metered_fleet.h"
#include "tests/bench/reservation_replay.h"
#include "worker-agent/meter/prices.h"

namespace autovibe::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int64_t kCapMicros = 1'000'000;
constexpr double kTargetStopP99Ms = 250;
constexpr const char* kModel = "claude-sonnet-4-5";
constexpr const char* kBody = R"({"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,)"
                              R"("messages":[{"role":"user","content":"hi"}]})";

struct Options {
  int runs = 3;
  int streams = 64;
  int trials = 20;
  int tasks = 4;  // tool processes per project in the stop trials
};

// One streaming call on a fresh connection; the HTTP status, 0 when unreachable.
int CallOnce(const ToolCredentials& c) {
  auto url = boost::urls::parse_uri(c.base_url);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(ioc);
  auto eps = resolver.resolve(std::string(url->host()), std::string(url->port()), ec);
  if (!ec) {
    testing::SocketsOwnedBy as_the_task(c.uid);  // the proxy honours its token only from it
    stream.connect(eps, ec);
  }
  if (ec) return 0;
  http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
  req.set(http::field::host, std::string(url->host()));
  req.set("x-api-key", c.token);
  req.set("anthropic-version", "2023-06-01");
  req.set(http::field::content_type, "application/json");
  req.keep_alive(false);
  req.body() = kBody;
  req.prepare_payload();
  http::write(stream, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buf, res, ec);
  return ec ? 0 : res.result_int();
}

// Whether process `pid` exists and is not a zombie.
bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

bool AllGone(const std::vector<pid_t>& pids) {
  return std::none_of(pids.begin(), pids.end(), Alive);
}

// Milliseconds from `start` until every pid is gone; negative after 10 s.
double UntilGone(const std::vector<pid_t>& pids, SteadyClock::time_point start) {
  const auto deadline = start + 10s;
  while (!AllGone(pids)) {
    if (SteadyClock::now() > deadline) return -1;
    std::this_thread::sleep_for(200us);  // polling /proc, not waiting for an event
  }
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

int64_t TallyCost(const testing::UsageTally& t) {
  auto price = meter::PriceTable::BuiltIn().Find(kModel);
  return price ? meter::PriceTable::Cost(*price, {t.input_tokens, t.output_tokens,
                                                  t.cache_write_tokens, t.cache_read_tokens})
               : -1;
}

testing::UsageTally Minus(testing::UsageTally a, const testing::UsageTally& b) {
  a.calls -= b.calls;
  a.input_tokens -= b.input_tokens;
  a.output_tokens -= b.output_tokens;
  a.cache_write_tokens -= b.cache_write_tokens;
  a.cache_read_tokens -= b.cache_read_tokens;
  return a;
}

int Overshoot(MeteredFleet& fleet, const Options& o) {
  std::vector<double> overs;
  int64_t worst = 0;
  for (int run = 0; run < o.runs; ++run) {
    const std::string project = "cap-" + std::to_string(run);
    if (!fleet.CreateProject(project) ||
        !fleet.SetBudgets(project,
                          json::array{json::object{
                              {"resource", "usd"}, {"limit", "1.00"}, {"on_exhaust", "stop"}}})) {
      Progress("cannot set up project {}", project);
      return 1;
    }
    auto held = fleet.HoldTask(project);
    if (!held) return 1;
    const testing::UsageTally before = fleet.upstream().Tally();
    std::atomic<int64_t> ok{0}, refused{0};
    std::vector<std::thread> clients;
    const auto start = SteadyClock::now();
    for (int s = 0; s < o.streams; ++s) {
      clients.emplace_back([&] {
        // Like an SDK: 503 (the budget is held by other calls right now) is retried; a 429
        // (exhausted) or 401 (the task was stopped) ends the client.
        while (SteadyClock::now() - start < 120s) {
          const int status = CallOnce(held->second);
          if (status == 200) {
            ++ok;
          } else if (status == 503 || status == 0) {
            continue;
          } else {
            ++refused;
            return;
          }
        }
      });
    }
    for (auto& c : clients) c.join();
    const testing::UsageTally used = Minus(fleet.upstream().Tally(), before);
    // Every record in: the ledger's calls equal what the upstream answered.
    testing::WaitUntil([&] { return fleet.Ledger(project).first == used.calls; }, 15s);
    const auto [calls, spent] = fleet.Ledger(project);
    const int64_t upstream_cost = TallyCost(used);
    const int64_t over = std::max(spent, upstream_cost) - kCapMicros;
    worst = std::max(worst, over);
    overs.push_back(static_cast<double>(over));
    Progress(
        "run {}: {} calls answered ({} in the ledger), spent ${} by the ledger, ${} by the "
        "upstream's tally, {} clients refused",
        run + 1, used.calls, calls, FormatUsd(spent), FormatUsd(upstream_cost), refused.load());
    JsonLine()
        .Str("bench", "budget_overshoot_run")
        .Int("run", run + 1)
        .Int("streams", o.streams)
        .Int("calls", used.calls)
        .Int("ledger_calls", calls)
        .Str("limit_usd", FormatUsd(kCapMicros))
        .Str("spent_usd_ledger", FormatUsd(spent))
        .Str("spent_usd_upstream", FormatUsd(upstream_cost))
        .Int("overshoot_micros", std::max<int64_t>(0, over))
        .Print();
  }
  JsonLine()
      .Str("bench", "budget_overshoot")
      .Int("runs", o.runs)
      .Int("streams", o.streams)
      .Str("limit_usd", "1.00")
      .Int("worst_overshoot_micros", std::max<int64_t>(0, worst))
      .Int("target_overshoot_micros", 0)
      .Bool("target_met", worst <= 0)
      .Print();
  return worst <= 0 ? 0 : 1;
}

// Holds `n` tasks open in a fresh project; their credentials (empty on failure).
std::vector<ToolCredentials> HoldMany(MeteredFleet& fleet, const std::string& project, int n,
                                      const json::array& budgets) {
  std::vector<ToolCredentials> out;
  if (!fleet.CreateProject(project)) return out;
  if (!budgets.empty() && !fleet.SetBudgets(project, budgets)) return out;
  for (int i = 0; i < n; ++i) {
    auto h = fleet.HoldTask(project);
    if (!h) return {};
    out.push_back(h->second);
  }
  return out;
}

int StopLatency(MeteredFleet& fleet, const Options& o) {
  std::vector<double> exhaust_ms, stop_ms;
  for (int trial = 0; trial < o.trials; ++trial) {
    // The budget allows two calls; the third exhausts it.
    auto tools = HoldMany(fleet, "ex-" + std::to_string(trial), o.tasks,
                          json::array{json::object{
                              {"resource", "api_calls"}, {"limit", 2}, {"on_exhaust", "pause"}}});
    if (tools.empty()) return 1;
    std::vector<pid_t> pids;
    for (const auto& t : tools) pids.push_back(t.pid);
    int status = 200;
    for (int i = 0; i < 10 && status == 200; ++i) status = CallOnce(tools[0]);
    const auto refused_at = SteadyClock::now();
    if (status != 429) {
      Progress("trial {}: expected 429, got {}", trial + 1, status);
      return 1;
    }
    exhaust_ms.push_back(UntilGone(pids, refused_at));

    tools = HoldMany(fleet, "halt-" + std::to_string(trial), o.tasks, {});
    if (tools.empty()) return 1;
    pids.clear();
    for (const auto& t : tools) pids.push_back(t.pid);
    const auto asked_at = SteadyClock::now();
    if (!fleet.Call("POST", "/v1/projects/halt-" + std::to_string(trial) + "/stop")) return 1;
    stop_ms.push_back(UntilGone(pids, asked_at));
    Progress("trial {}: exhausted -> gone {:.1f} ms, project stop -> gone {:.1f} ms", trial + 1,
             exhaust_ms.back(), stop_ms.back());
  }
  int result = 0;
  for (const auto& [what, v] :
       {std::pair{"exhausted", exhaust_ms}, std::pair{"project_stop", stop_ms}}) {
    const bool failed = std::any_of(v.begin(), v.end(), [](double x) { return x < 0; });
    const double p99 = Percentile(v, 99);
    const bool met = !failed && p99 < kTargetStopP99Ms;
    if (!met) result = 1;
    JsonLine()
        .Str("bench", "budget_stop_latency")
        .Str("trigger", what)
        .Int("trials", static_cast<int64_t>(v.size()))
        .Int("tool_processes", o.tasks)
        .Num("p50_ms", Percentile(v, 50), 1)
        .Num("p99_ms", p99, 1)
        .Num("max_ms", Percentile(v, 100), 1)
        .Num("target_p99_ms", kTargetStopP99Ms, 0)
        .Bool("target_met", met)
        .Print();
  }
  return result;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options o;
  CLI::App app{"budget_bench: overshoot of a $1.00 cap under 64 streams, and stop latency"};
  app.add_option("--runs", o.runs, "overshoot runs");
  app.add_option("--streams", o.streams, "concurrent clients against the cap");
  app.add_option("--trials", o.trials, "stop-latency trials per trigger");
  app.add_option("--tasks", o.tasks, "tool processes per project in the stop trials");
  int continuations = 3;
  app.add_option("--continuations", continuations,
                 "prompts continuing the recorded Claude Code session of the reservation figures");
  bool reservations_only = false;
  app.add_flag("--reservations-only", reservations_only, "only the reservation figures");
  CLI11_PARSE(app, argc, argv);
  if (reservations_only) {
    autovibe::InitLogging("budget_bench", "warn");
    return autovibe::bench::ReservationReplay(continuations) == 1 ? 1 : 0;
  }
  autovibe::InitLogging("budget_bench", "warn");  // stdout is for figures only
  autovibe::bench::Progress("starting nats-server, controller, agent and the fake upstream");
  autovibe::bench::MeteredFleet fleet(
      autovibe::testing::UsageOverride{.input_tokens = 120, .output_tokens = 40},
      static_cast<uint32_t>(std::max(o.tasks, 2)) * 2);
  const int over = autovibe::bench::Overshoot(fleet, o);
  const int stop = autovibe::bench::StopLatency(fleet, o);
  // 2: no Claude Code CLI here, said on stderr; not a failure of the budgets.
  const int replay = autovibe::bench::ReservationReplay(continuations);
  return over != 0 || stop != 0 || replay == 1 ? 1 : 0;
}
