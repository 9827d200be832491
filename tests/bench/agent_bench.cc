// agent_bench: the footprint of an idle autovibe-agent next to prometheus-node-exporter, the
// reference host agent, measured side by side in the same runs.
//
// The agent runs as ./scripts/quickstart.sh runs it: a real nats-server with authorization
// on, autovibe-controller (default 2 s heartbeats) with a pool of local machines, and the
// agent that controller spawns with the config it writes (the machine's own bus user, the
// quickstart's mock upstreams). Each run measures it idle twice: from its start, and after
// three tasks, as many as the quickstart's demo runs (shell tasks that each make one metered
// LLM call and end with a checkpoint), since an agent keeps in memory what its work touched,
// and some of it (a heap that grew) only from its second time on. Next to it runs one
// prometheus-node-exporter (default collectors, scraped every 15 s the way Prometheus would).
// After a settle period both processes are sampled over a window: RSS every second (mean),
// time on CPU (nanosecond schedstat), threads. Medians over the runs go to stdout as JSON
// lines; the agent's memory breakdown by mapping goes to stderr.
// Run it with ./scripts/bench.sh agent.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/core/log.h"
#include "common/http/client.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/http_poller.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/smaps_report.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace json = boost::json;

constexpr double kTargetRssMb = 10;
constexpr double kTargetCpuPct = 0.5;
constexpr int kTasks = 3;
// The quickstart's shell task, and one LLM call through the agent's metering proxy (the mock
// upstream answers) the way a coding tool makes it.
constexpr const char* kTaskScript =
    "echo \"hello from $AUTOVIBE_TASK_ID\" | tee hello.txt && "
    "curl -sf \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: $ANTHROPIC_API_KEY\" "
    "-H 'content-type: application/json' -d '{\"model\": \"claude-haiku-4-5\", "
    "\"max_tokens\": 100, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}'";

struct Options {
  int runs = 3;
  int settle_s = 5;
  int window_s = 30;
  int scrape_every_s = 15;
  std::string node_exporter = "/usr/bin/prometheus-node-exporter";
};

// One process's figures in one run.
struct Footprint {
  double rss_mb = 0;       // mean of per-second samples over the window
  double rss_peak_mb = 0;  // largest sample
  double rss_anon_mb = 0;  // at the end of the window
  double pss_mb = 0;       // at the end of the window
  double cpu_pct = 0;      // of one core, over the window
  double threads = 0;      // at the end of the window
};

// Tracks one process over a measurement window.
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), cpu_start_(OnCpuSeconds(pid).value_or(0)) {}

  void SampleRss() {
    const double mb = static_cast<double>(StatusKb(pid_, "VmRSS").value_or(0)) / 1024;
    rss_sum_ += mb;
    rss_peak_ = std::max(rss_peak_, mb);
    ++samples_;
  }

  Footprint Finish(double window_s) const {
    Footprint f;
    f.rss_mb = samples_ > 0 ? rss_sum_ / samples_ : 0;
    f.rss_peak_mb = rss_peak_;
    f.rss_anon_mb = static_cast<double>(StatusKb(pid_, "RssAnon").value_or(0)) / 1024;
    f.pss_mb = static_cast<double>(RollupKb(pid_, "Pss").value_or(0)) / 1024;
    f.cpu_pct = (OnCpuSeconds(pid_).value_or(0) - cpu_start_) / window_s * 100;
    f.threads = ThreadCount(pid_).value_or(0);
    return f;
  }

 private:
  pid_t pid_;
  double cpu_start_;
  double rss_sum_ = 0;
  double rss_peak_ = 0;
  int samples_ = 0;
};

struct RunResult {
  Footprint agent;              // idle from its start
  Footprint agent_after_tasks;  // idle again after kTasks tasks
  Footprint node_exporter;
  int scrapes_in_window = 0;
};

// Samples both processes over one window that starts after `settle_s`.
struct Window {
  Footprint agent;
  Footprint node_exporter;
  int scrapes = 0;
};

Window Measure(const Options& o, pid_t agent, pid_t node_exporter, HttpPoller& scraper) {
  std::this_thread::sleep_for(std::chrono::seconds(o.settle_s));
  const auto start = SteadyClock::now();
  Sampler agent_sampler(agent);
  Sampler ne_sampler(node_exporter);
  for (int s = 1; s <= o.window_s; ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    agent_sampler.SampleRss();
    ne_sampler.SampleRss();
  }
  const auto end = SteadyClock::now();
  const double secs = std::chrono::duration<double>(end - start).count();
  return {agent_sampler.Finish(secs), ne_sampler.Finish(secs), scraper.CountBetween(start, end)};
}

// nats-server with authorization on and a controller with the quickstart's pool, as
// ./scripts/quickstart.sh starts them; the controller spawns the agent.
struct QuickstartFleet {
  explicit QuickstartFleet(const testing::TempDir& dir)
      : nats(Nats(dir)), controller(dir / "controller", nats.url(), {"--config", Config(dir)}) {}

  // The harness's bus has users (bus_auth.h): the controller gets its own, and mints one for
  // the pool's machine, as the quickstart's does.
  static testing::NatsServer Nats(const testing::TempDir& dir) {
    return testing::NatsServer(dir / "nats");
  }

  static std::string Config(const testing::TempDir& dir) {
    const std::string path = dir / "controller.toml";
    std::ofstream(path)
        << "[[pool]]\nname = \"local\"\nbackend = \"local\"\nmin = 1\n"
           "max = 1\nidle_timeout = \"30m\"\nlabels = { pool = \"local\" }\n"
           "[pool.agent]\nupstreams = { anthropic = \"mock\", openai = \"mock\" }\n";
    return path;
  }

  // The pid of the pool's agent, once its machine is ready.
  pid_t ReadyAgent() {
    json::object machine;
    const bool ready = testing::WaitUntil(
        [&] {
          json::array all = controller.Machines();
          if (all.empty() || !all[0].is_object()) return false;
          machine = all[0].as_object();
          return testing::JsonString(machine, "state") == "ready";
        },
        30s, 50ms);
    if (!ready) throw std::runtime_error("the pool's agent did not become ready");
    // The local backend's instance is the agent's pid.
    return static_cast<pid_t>(std::stol(testing::JsonString(machine, "instance")));
  }

  std::optional<json::value> Call(const std::string& method, const std::string& path,
                                  const json::value& body = nullptr) {
    return controller.CallJson(method, path, body);
  }

  // The quickstart's project and budget.
  void CreateProject() {
    if (!Call("POST", "/v1/projects", json::object{{"name", "demo"}}) ||
        !Call("PUT", "/v1/projects/demo/budgets",
              json::object{{"budgets",
                            json::array{json::object{
                                {"resource", "usd"}, {"limit", "1.00"}, {"period", "total"}}}}})) {
      throw std::runtime_error("cannot create the project and its budget");
    }
  }

  // One task (kTaskScript), until it succeeded and its checkpoint is recorded.
  void RunTask() {
    auto t = Call("POST", "/v1/tasks",
                  json::object{{"project", "demo"},
                               {"tool", "shell"},
                               {"command", json::array{"sh", "-c", kTaskScript}}});
    if (!t) throw std::runtime_error("cannot submit the task");
    const std::string id(t->at("id").as_string());
    std::string state;
    testing::WaitUntil(
        [&] {
          auto task = Call("GET", "/v1/tasks/" + id);
          state = task ? std::string(task->at("state").as_string()) : "";
          return state == "succeeded" || state == "failed" || state == "cancelled";
        },
        60s, 50ms);
    if (state != "succeeded") throw std::runtime_error("the task ended " + state);
    const bool checkpointed = testing::WaitUntil(
        [&] {
          auto cps = Call("GET", "/v1/checkpoints?task=" + id);
          return cps && !cps->at("checkpoints").as_array().empty();
        },
        30s, 50ms);
    if (!checkpointed) throw std::runtime_error("the task's checkpoint was not recorded");
  }

  testing::NatsServer nats;
  testing::ControllerProcess controller;
};

RunResult RunOnce(const Options& o, int run) {
  testing::TempDir dir("autovibe-bench-agent");
  testing::KillOnExit cleanup(dir.path());  // the agent the controller spawned
  QuickstartFleet fleet(dir);
  const uint16_t ne_port = testing::FreePort();
  testing::ChildProcess node_exporter(
      {o.node_exporter, "--web.listen-address=127.0.0.1:" + std::to_string(ne_port)},
      dir / "node-exporter.log");
  const pid_t agent = fleet.ReadyAgent();
  if (!testing::WaitUntil([&] { return testing::PortOpen(ne_port); }, 20s)) {
    throw std::runtime_error("node-exporter did not start; log:\n" + node_exporter.Log());
  }
  // Scraped as Prometheus would scrape it.
  bench::HttpPoller scraper("http://127.0.0.1:" + std::to_string(ne_port) + "/metrics",
                            std::chrono::seconds(o.scrape_every_s));
  Progress("run {}: agent pid {}, node-exporter pid {}; settling {} s, then measuring {} s", run,
           agent, node_exporter.pid(), o.settle_s, o.window_s);
  const Window idle = Measure(o, agent, node_exporter.pid(), scraper);
  if (run == 1) std::fputs(MemoryReport(agent, "autovibe-agent, idle").c_str(), stderr);
  fleet.CreateProject();
  for (int i = 0; i < kTasks; ++i) fleet.RunTask();
  Progress("run {}: the agent ran {} tasks; settling {} s, then measuring {} s again", run, kTasks,
           o.settle_s, o.window_s);
  const Window after = Measure(o, agent, node_exporter.pid(), scraper);
  RunResult r{idle.agent, after.agent, idle.node_exporter, idle.scrapes};
  // Not a child of ours (the controller spawned it detached): no zombie to mistake for it.
  if (::kill(agent, 0) != 0 || !node_exporter.Running()) {
    throw std::runtime_error("a measured process exited during the run");
  }
  if (scraper.failures() > 0)
    Progress("warning: {} node-exporter scrapes failed", scraper.failures());
  Progress(
      "run {}: agent rss {:.2f} MB, {:.2f} MB after the tasks, cpu {:.3f}% | node-exporter rss "
      "{:.2f} MB cpu {:.3f}% ({} scrapes in window)",
      run, r.agent.rss_mb, r.agent_after_tasks.rss_mb, r.agent.cpu_pct, r.node_exporter.rss_mb,
      r.node_exporter.cpu_pct, r.scrapes_in_window);
  if (run == 1) {
    std::fputs(MemoryReport(agent, "autovibe-agent, idle after the tasks").c_str(), stderr);
    std::fputs(("autovibe-agent " + ThreadReport(agent)).c_str(), stderr);
    std::fputs(MemoryReport(node_exporter.pid(), "prometheus-node-exporter", 8).c_str(), stderr);
  }
  return r;
}

double MedianOf(const std::vector<RunResult>& runs, Footprint RunResult::*who,
                double Footprint::*field) {
  std::vector<double> v;
  v.reserve(runs.size());
  for (const auto& r : runs) v.push_back(r.*who.*field);
  return Median(v);
}

void PrintProcess(const std::vector<RunResult>& runs, const Options& o, const char* process,
                  Footprint RunResult::*who, const char* activity = nullptr) {
  JsonLine line;
  line.Str("bench", "agent")
      .Str("process", process)
      .Num("rss_mb", MedianOf(runs, who, &Footprint::rss_mb), 2)
      .Num("cpu_pct_of_core", MedianOf(runs, who, &Footprint::cpu_pct), 3)
      .Num("threads", MedianOf(runs, who, &Footprint::threads), 0)
      .Int("runs", static_cast<int64_t>(runs.size()))
      .Num("rss_peak_mb", MedianOf(runs, who, &Footprint::rss_peak_mb), 2)
      .Num("rss_anon_mb", MedianOf(runs, who, &Footprint::rss_anon_mb), 2)
      .Num("pss_mb", MedianOf(runs, who, &Footprint::pss_mb), 2)
      .Int("window_s", o.window_s);
  if (who == &RunResult::node_exporter) {
    std::vector<double> scrapes;
    scrapes.reserve(runs.size());
    for (const auto& r : runs) scrapes.push_back(r.scrapes_in_window);
    line.Int("scrape_interval_s", o.scrape_every_s).Num("scrapes_per_window", Median(scrapes), 1);
  } else {
    line.Str("activity", activity);
  }
  line.Print();
}

int Run(const Options& o) {
  if (!std::filesystem::exists(o.node_exporter)) {
    Progress(
        "{} is missing: apt-get install -y --no-install-recommends "
        "prometheus-node-exporter (scripts/install-deps.sh lists it)",
        o.node_exporter);
    return 2;
  }
  std::vector<RunResult> runs;
  for (int i = 1; i <= o.runs; ++i) runs.push_back(RunOnce(o, i));
  PrintProcess(runs, o, "autovibe-agent", &RunResult::agent,
               "idle from its start; heartbeat every 2 s (controller default)");
  PrintProcess(runs, o, "autovibe-agent", &RunResult::agent_after_tasks,
               "idle after 3 tasks (each a metered call and a checkpoint); heartbeat every 2 s");
  PrintProcess(runs, o, "prometheus-node-exporter", &RunResult::node_exporter);
  const double agent_rss = MedianOf(runs, &RunResult::agent, &Footprint::rss_mb);
  const double agent_after_rss = MedianOf(runs, &RunResult::agent_after_tasks, &Footprint::rss_mb);
  const double agent_cpu = MedianOf(runs, &RunResult::agent, &Footprint::cpu_pct);
  const double ne_rss = MedianOf(runs, &RunResult::node_exporter, &Footprint::rss_mb);
  const double ne_cpu = MedianOf(runs, &RunResult::node_exporter, &Footprint::cpu_pct);
  // An agent idles under the target only if it still does once it has worked.
  const double worst_rss = std::max(agent_rss, agent_after_rss);
  JsonLine()
      .Str("bench", "agent")
      .Num("target_rss_mb", kTargetRssMb, 1)
      .Num("target_cpu_pct", kTargetCpuPct, 2)
      .Bool("target_met", worst_rss < kTargetRssMb && agent_cpu < kTargetCpuPct)
      .Num("rss_ratio_vs_node_exporter", worst_rss / ne_rss, 3)
      .Num("cpu_ratio_vs_node_exporter", agent_cpu / ne_cpu, 3)
      .Num("agent_rss_mb", agent_rss, 2)
      .Num("agent_rss_after_tasks_mb", agent_after_rss, 2)
      .Num("agent_cpu_pct", agent_cpu, 3)
      .Print();
  return 0;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options options;
  CLI::App app{"Idle footprint of autovibe-agent vs prometheus-node-exporter (JSON lines)"};
  app.add_option("--runs", options.runs, "independent runs (median)");
  app.add_option("--settle", options.settle_s, "seconds after start before measuring");
  app.add_option("--window", options.window_s, "seconds measured per window (two per run)");
  app.add_option("--scrape-every", options.scrape_every_s, "node-exporter scrape interval, s");
  app.add_option("--node-exporter", options.node_exporter, "node-exporter binary");
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("agent_bench", "warn");  // stdout is for figures only
  try {
    return autovibe::bench::Run(options);
  } catch (const std::exception& e) {
    autovibe::bench::Progress("agent bench failed: {}", e.what());
    return 1;
  }
}
