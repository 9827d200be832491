#include "tests/bench/reservation_replay.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "autovibe/v1/command.pb.h"
#include "common/http/client.h"
#include "tests/bench/bench_output.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/support/process.h"
#include "worker-agent/meter/count_tokens.h"
#include "worker-agent/meter/prefix_book.h"
#include "worker-agent/meter/proxy.h"
#include "worker-agent/meter/request.h"
#include "worker-agent/meter/worst_case.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe::bench {
namespace {

using testing::FakeAnthropic;
using testing::TempDir;

std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string file = dir + "/" + name;
    if (!dir.empty() && access(file.c_str(), X_OK) == 0) return file;
  }
  return "";
}

// One `claude` run as the claude-code adapter starts it, with only the environment the runner
// would give it, in `workspace`; true when it exited 0.
bool RunClaude(const std::string& claude, const FakeAnthropic& fake, const std::string& prompt,
               bool continue_conversation, const TempDir& home, const TempDir& workspace) {
  v1::RunTask task;
  task.set_task_id("t-replay");
  task.set_project("demo");
  task.set_tool("claude-code");
  task.set_prompt(prompt);
  (*task.mutable_options())["max_turns"] = "5";
  auto launch =
      tools::FindAdapter("claude-code")->Prepare(task, {fake.url(), "sk-ant-bench", "", ""});
  if (!launch) return false;
  std::vector<std::string> argv = {"/usr/bin/env", "-i", "-C", workspace.path()};
  for (const auto& [k, v] : launch->env) argv.push_back(k + "=" + v);
  argv.push_back("PATH=" + std::string(std::getenv("PATH")));
  argv.push_back("HOME=" + home.path());
  argv.push_back(claude);
  if (continue_conversation) argv.push_back("--continue");
  argv.insert(argv.end(), launch->argv.begin() + 1, launch->argv.end());
  testing::ChildProcess p(argv, home / "claude.log");
  return p.Wait(std::chrono::seconds(120)) == 0;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

// What the proxy does for a call with a large new part: asks the provider's counter (here the
// fake, on loopback) with the body it would send; the count and the round trip's time.
std::optional<std::pair<int64_t, double>> Count(const FakeAnthropic& fake,
                                                const std::string& body) {
  auto count_body = meter::CountTokensBody(body);
  if (!count_body) return std::nullopt;
  const auto start = std::chrono::steady_clock::now();
  auto reply = SendHttp({.method = "POST",
                         .url = fake.url() + "/v1/messages/count_tokens",
                         .body = *count_body,
                         .headers = {{"anthropic-version", "2023-06-01"}}});
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!reply || reply->status != 200) return std::nullopt;
  return std::pair{boost::json::parse(reply->body).at("input_tokens").to_number<int64_t>(), ms};
}

}  // namespace

int ReservationReplay(int continuations) {
  const std::string claude = OnPath("claude");
  if (claude.empty()) {
    Progress("reservations: the Claude Code CLI is not on PATH (scripts/install-deps.sh); skipped");
    return 2;
  }
  FakeAnthropic fake({.write_file = "notes.txt",
                      .content = "notes from autovibe\n",
                      .final_text = "Updated notes.txt."});
  if (!fake.Start()) return 1;
  TempDir home("av-replay-home");
  TempDir workspace("av-replay-ws");
  Progress("reservations: recording a Claude Code session of {} prompts", continuations + 1);
  for (int i = 0; i <= continuations; ++i) {
    const std::string prompt = "Step " + std::to_string(i + 1) + ": update notes.txt.";
    if (!RunClaude(claude, fake, prompt, i > 0, home, workspace)) {
      Progress("reservations: claude run {} failed; see {}", i + 1, home / "claude.log");
      return 1;
    }
  }

  meter::PrefixBook book;
  std::vector<double> input_bytes_ratio, input_prefix_ratio, usd_bytes_ratio, usd_prefix_ratio;
  std::vector<double> count_ms;
  const meter::ProxyOptions proxy_defaults;
  int call = 0;
  int broken = 0;
  for (const auto& r : fake.requests()) {
    if (r.path != "/v1/messages" || r.cut || r.usage.total() == 0) continue;
    auto plan = meter::PlanCall(meter::Api::kMessages, r.body, meter::PriceTable::BuiltIn());
    auto shape = meter::ReadShape(meter::Api::kMessages, r.body);
    if (!plan || !shape) continue;
    meter::RequestFacts tight = plan->request;
    tight.input_bound = book.InputBound("t-replay", *shape);
    // The proxy's count for a call with a large new part (a session's first).
    const bool counted = book.UnknownBytes("t-replay", *shape) >= proxy_defaults.count_tokens_above;
    if (counted) {
      auto count = Count(fake, r.body);
      if (!count) return 1;
      tight.input_bound = std::min(tight.input_bound, meter::CountedBound(count->first));
      count_ms.push_back(count->second);
    }
    auto tight_worst = meter::WorstCase(tight, plan->price);
    if (!tight_worst) continue;
    const meter::TokenCounts used{.input = r.usage.input,
                                  .output = r.usage.output,
                                  .cache_write = r.usage.cache_write,
                                  .cache_read = r.usage.cache_read};
    const int64_t actual_usd = meter::PriceTable::Cost(plan->price, used);
    const int64_t input = used.prompt();
    if (actual_usd > tight_worst->amounts.usd_micros || input > tight.input_bound) ++broken;
    input_bytes_ratio.push_back(Ratio(plan->request.input_bound, input));
    input_prefix_ratio.push_back(Ratio(tight.input_bound, input));
    usd_bytes_ratio.push_back(Ratio(plan->worst.usd_micros, actual_usd));
    usd_prefix_ratio.push_back(Ratio(tight_worst->amounts.usd_micros, actual_usd));
    JsonLine()
        .Str("bench", "budget")
        .Str("scenario", "reservations")
        .Int("call", ++call)
        .Str("model", r.model)
        .Str("answer", r.answer)
        .Int("request_bytes", static_cast<int64_t>(r.body.size()))
        .Int("input_tokens", input)
        .Int("input_bound_bytes", plan->request.input_bound)
        .Int("input_bound_prefix", tight.input_bound)
        .Int("counted", counted ? 1 : 0)
        .Int("max_output_tokens", plan->request.max_output.value_or(0))
        .Int("actual_micros", actual_usd)
        .Int("reserved_bytes_micros", plan->worst.usd_micros)
        .Int("reserved_prefix_micros", tight_worst->amounts.usd_micros)
        .Print();
    book.Learn("t-replay", *shape, input);
  }
  JsonLine()
      .Str("bench", "budget")
      .Str("scenario", "reservations_summary")
      .Int("calls", call)
      .Int("bound_broken", broken)
      .Int("counted_calls", static_cast<int64_t>(count_ms.size()))
      .Num("count_round_trip_ms_median", Median(count_ms), 3)
      .Num("input_reserved_vs_actual_bytes_median", Median(input_bytes_ratio), 2)
      .Num("input_reserved_vs_actual_prefix_median", Median(input_prefix_ratio), 2)
      .Num("usd_reserved_vs_actual_bytes_median", Median(usd_bytes_ratio), 2)
      .Num("usd_reserved_vs_actual_prefix_median", Median(usd_prefix_ratio), 2)
      .Print();
  return broken == 0 ? 0 : 1;
}

}  // namespace autovibe::bench
