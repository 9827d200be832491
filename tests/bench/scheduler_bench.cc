// scheduler_bench: how fast one controller places tasks on a fleet.
//
// Each run starts a fresh nats-server (JetStream) and autovibe-controller, and simulates the
// fleet from this one process: SimFleet registers the machines (tool "shell", one task slot
// each) and heartbeats for them; SimWorkers answers every RunTask at once and reports the task
// finished on the events stream straight away (no-op tasks).
//
// Phase 1, throughput: --tasks no-op tasks are submitted over the API while no machine is
// registered (they all queue), then --machines machines register. Placements per second are
// measured from the first RunTask reaching a simulated machine to the last (every placement
// reaches a machine; a machine's slot is free again only once the controller has applied the
// previous task's TaskFinished event), and cross-checked with the controller's own
// autovibe_task_placements_total polled every 100 ms.
// Phase 2, latency: with the fleet idle, --latency-tasks tasks are submitted at a steady
// --latency-rate; submit-to-running latency is the time from sending the POST to the RunTask
// reaching the machine (cross-check: the task's started_at - created_at, ms resolution).
//
// One JSON line per run on stdout, then a summary with medians over the runs.
// Run it with ./scripts/bench.sh scheduler (extra flags in SCHEDULER_BENCH_ARGS).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "common/core/time.h"
#include "common/http/client.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/prom_text.h"
#include "tests/bench/sim_fleet.h"
#include "tests/bench/sim_workers.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::ControllerProcess;

constexpr double kTargetPlacementsPerSecond = 5000;
constexpr double kNomadC1mPerSecond = 3750;     // Nomad C1M: ~3,750 containers/s, 5 servers
constexpr double kKubernetesCiPerSecond = 270;  // kube-scheduler CI: 270 pods/s at 5,000 nodes
constexpr auto kPollEvery = std::chrono::milliseconds(100);

struct Options {
  size_t tasks = 100'000;
  size_t machines = 1000;
  int runs = 3;
  size_t latency_tasks = 5000;
  double latency_rate = 1000;
  int submit_threads = 16;
  int register_threads = 16;
  int publishers = 32;
  int phase_timeout_s = 180;
};

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The q-quantile (nearest rank) of the values; NaN when empty.
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// CPU seconds of each thread of `pid` (utime + stime of /proc/PID/task/TID/stat), by tid,
// with the thread's name.
std::map<pid_t, std::pair<std::string, double>> ThreadCpuSeconds(pid_t pid) {
  std::map<pid_t, std::pair<std::string, double>> out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string stat = ReadSmallFile(entry.path().string() + "/stat");
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    out[static_cast<pid_t>(std::stol(entry.path().filename().string()))] = {
        stat.substr(open + 1, close - open - 1), (utime + stime) / tick};
  }
  return out;
}

// One keep-alive HTTP/1.1 connection to the controller (SendHttp opens one per call, which at
// tens of thousands of submissions costs more than the calls). Not thread-safe: one per thread.
class ApiConnection {
 public:
  ApiConnection(uint16_t port, std::string token) : port_(port), token_(std::move(token)) {}

  Result<HttpReply> Send(http::verb method, const std::string& target, const std::string& body,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    // A kept connection the server closed meanwhile fails at once: retry on a fresh one.
    for (int attempt = 0;; ++attempt) {
      const bool reused = stream_ != nullptr;
      auto r = SendOnce(method, target, body, timeout);
      if (r || !reused || attempt > 0) return r;
    }
  }

 private:
  Result<HttpReply> SendOnce(http::verb method, const std::string& target, const std::string& body,
                             std::chrono::milliseconds timeout) {
    boost::system::error_code ec;
    if (!stream_) {
      stream_ = std::make_unique<beast::tcp_stream>(ioc_);
      buffer_.clear();
      stream_->expires_after(timeout);
      ioc_.restart();
      stream_->async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                             [&](boost::system::error_code e) { ec = e; });
      ioc_.run();
      if (ec) {
        stream_.reset();
        return MakeError(ErrorCode::kUnavailable, "connect: " + ec.message());
      }
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + token_);
    req.keep_alive(true);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    stream_->expires_after(timeout);
    ioc_.restart();
    http::async_write(*stream_, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      if (!ec) {
        http::async_read(*stream_, buffer_, parser,
                         [&](boost::system::error_code e2, size_t) { ec = e2; });
      }
    });
    ioc_.run();
    if (ec) {
      stream_.reset();
      return MakeError(ErrorCode::kIo, target + ": " + ec.message());
    }
    auto& res = parser.get();
    HttpReply out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream_.reset();
    return out;
  }

  asio::io_context ioc_;
  uint16_t port_;
  std::string token_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// One submission as the client saw it.
struct Submitted {
  std::string id;
  SteadyClock::time_point sent;
  SteadyClock::time_point answered;
};

// Polls the controller's /metrics (and its RSS) on its own thread, every kPollEvery.
class MetricsSampler {
 public:
  struct Sample {
    SteadyClock::time_point at;  // when the answer came
    double placements, succeeded, failed, queued, requeued, lost;
  };

  MetricsSampler(std::string url, pid_t controller) : url_(std::move(url)), pid_(controller) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~MetricsSampler() {
    stop_ = true;
    thread_.join();
  }

  std::vector<Sample> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }
  std::optional<Sample> last() {
    std::lock_guard lock(mu_);
    if (samples_.empty()) return std::nullopt;
    return samples_.back();
  }
  double max_rss_mb() const { return static_cast<double>(max_rss_kb_.load()) / 1024; }

 private:
  void Loop() {
    auto next = SteadyClock::now();
    while (!stop_) {
      HttpCall call;
      call.url = url_;
      call.timeout = std::chrono::seconds(20);  // a busy owner thread answers late
      auto reply = SendHttp(call);
      if (reply && reply->status == 200) {
        const std::string& t = reply->body;
        auto v = [&](std::string_view series) { return PromValue(t, series).value_or(NAN); };
        Sample s{SteadyClock::now(),
                 v("autovibe_task_placements_total"),
                 v("autovibe_tasks{state=\"succeeded\"}"),
                 v("autovibe_tasks{state=\"failed\"}"),
                 v("autovibe_tasks{state=\"queued\"}"),
                 v("autovibe_tasks_requeued_total"),
                 v("autovibe_machines{state=\"lost\"}")};
        std::lock_guard lock(mu_);
        samples_.push_back(s);
      }
      const int64_t rss = StatusKb(pid_, "VmRSS").value_or(0);
      if (rss > max_rss_kb_.load()) max_rss_kb_.store(rss);
      next = std::max(next + kPollEvery, SteadyClock::now());
      std::this_thread::sleep_until(next);
    }
  }

  std::string url_;
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_rss_kb_{0};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

// CPU seconds of the processes that matter, and of everything else on the host.
struct CpuSnapshot {
  SteadyClock::time_point at;
  double controller = 0, nats = 0, bench = 0;
  std::map<pid_t, double> all;
  std::map<pid_t, std::pair<std::string, double>> controller_threads;
};

struct RunResult {
  std::string error;
  double submit_per_s = NAN;
  double register_s = NAN;
  double placements_per_s = NAN;          // first RunTask to the last, at the machines
  double placements_per_s_steady = NAN;   // between the 10% and 90% RunTasks
  double placements_per_s_metrics = NAN;  // controller counter, 10% -> 90% of the tasks
  double place_all_s = NAN;
  double all_succeeded_s = NAN;  // first RunTask until every task succeeded
  double controller_cpu = NAN, controller_cpu_s = NAN, controller_rss_mb = NAN;
  double nats_cpu = NAN, bench_cpu = NAN, others_cpu = NAN;
  double owner_thread_cpu = NAN;   // the controller's main (owner, io_context) thread
  std::string controller_threads;  // "name/tid=cores" of its busiest threads
  double sim_side_p50_ms = NAN, sim_side_p99_ms = NAN;
  double turnaround_p50_ms = NAN, turnaround_p99_ms = NAN;
  double sim_handler_busy = NAN;  // fraction of the placement window in the command handler
  double latency_p50_ms = NAN, latency_p99_ms = NAN, latency_max_ms = NAN;
  double latency_from_answer_p50_ms = NAN, latency_from_answer_p99_ms = NAN;
  double api_latency_p50_ms = NAN, api_latency_p99_ms = NAN;
  double post_p50_ms = NAN, post_p99_ms = NAN;
  double latency_submit_per_s = NAN;
  size_t latency_measured = 0;
  double requeued = NAN, lost = NAN, failed = NAN;
  uint64_t duplicates = 0, overlaps = 0, cancels = 0, publish_retries = 0, publish_failures = 0;
};

class SchedulerBench {
 public:
  explicit SchedulerBench(Options o) : o_(std::move(o)) {}

  int Run() {
    std::vector<RunResult> runs;
    for (int i = 1; i <= o_.runs; ++i) {
      Progress("run {}/{}: {} tasks, {} machines", i, o_.runs, o_.tasks, o_.machines);
      RunResult r;
      try {
        testing::TempDir dir("autovibe-bench-sched");
        r = RunOnce(dir.path());
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      PrintRun(i, r);
      runs.push_back(std::move(r));
    }
    ShutdownNatsLibrary();
    PrintSummary(runs);
    // Missing the target is a figure, not a failure; no run measuring anything is.
    return std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.error.empty(); })
               ? 0
               : 1;
  }

 private:
  struct Servers {
    ChildProcess nats;
    std::string nats_url;
    std::unique_ptr<ControllerProcess> controller;
  };

  Servers StartServers(const std::string& dir) {
    Servers s;
    const uint16_t port = testing::FreePort();
    s.nats_url = "nats://127.0.0.1:" + std::to_string(port);
    s.nats = ChildProcess(
        {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir + "/js"},
        dir + "/nats.log");
    if (!testing::WaitUntil([&] { return testing::PortOpen(port); }, std::chrono::seconds(10))) {
      throw std::runtime_error("nats-server did not start; log:\n" + s.nats.Log());
    }
    // An open bus: the simulated agents share one anonymous connection, and this measures
    // the scheduler, not bus users.
    s.controller = std::make_unique<ControllerProcess>(dir + "/controller", s.nats_url,
                                                       std::vector<std::string>{"--insecure-bus"});
    Progress("nats-server pid {} at {}, controller pid {} at {}", s.nats.pid(), s.nats_url,
             s.controller->process().pid(), s.controller->base_url());
    return s;
  }

  CpuSnapshot TakeCpu(Servers& s) {
    CpuSnapshot c;
    c.at = SteadyClock::now();
    c.controller = CpuSeconds(s.controller->process().pid()).value_or(NAN);
    c.nats = CpuSeconds(s.nats.pid()).value_or(NAN);
    c.bench = CpuSeconds(getpid()).value_or(NAN);
    c.all = CpuSecondsByProcess();
    c.controller_threads = ThreadCpuSeconds(s.controller->process().pid());
    return c;
  }

  // Submits `n` tasks to `project` from `threads` keep-alive connections, as fast as the
  // controller takes them (rate <= 0) or task k at start + k / rate.
  std::vector<Submitted> Submit(Servers& s, const std::string& project, size_t n, int threads,
                                double rate, std::string& error) {
    std::vector<Submitted> out(n);
    std::atomic<size_t> next{0};
    std::mutex mu;
    const std::string body =
        fmt::format(R"({{"project":"{}","tool":"shell","command":["true"]}})", project);
    const auto start = SteadyClock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < std::max(threads, 1); ++t) {
      workers.emplace_back([&] {
        ApiConnection api(s.controller->port(), s.controller->token());
        for (size_t k = next++; k < n; k = next++) {
          if (rate > 0) {
            std::this_thread::sleep_until(
                start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * k / rate)));
          }
          Submitted& sub = out[k];
          sub.sent = SteadyClock::now();
          auto r = api.Send(http::verb::post, "/v1/tasks", body);
          sub.answered = SteadyClock::now();
          if (!r || r->status != 201) {
            std::lock_guard lock(mu);
            if (error.empty()) {
              error =
                  "POST /v1/tasks: " + (r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                                          : r.error().message);
            }
            next = n;
            return;
          }
          if (rate > 0) {  // only the latency phase needs the ids
            boost::system::error_code ec;
            auto v = json::parse(r->body, ec);
            if (!ec && v.is_object()) {
              if (auto* id = v.as_object().if_contains("id"); id && id->is_string()) {
                sub.id = std::string(id->as_string());
              }
            }
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    return out;
  }

  // Waits until `done` holds for the latest metrics sample; false on timeout or a dead
  // controller. Reports progress every few seconds.
  bool WaitFor(Servers& s, MetricsSampler& sampler, SimWorkers& workers, const char* what,
               const std::function<bool(const MetricsSampler::Sample&)>& done) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(o_.phase_timeout_s);
    auto next_report = SteadyClock::now() + std::chrono::seconds(3);
    while (SteadyClock::now() < deadline) {
      if (!s.controller->process().Running()) return false;
      auto last = sampler.last();
      if (last && done(*last)) return true;
      if (SteadyClock::now() >= next_report && last) {
        Progress("  {}: placed {:.0f}, succeeded {:.0f}, queued {:.0f}, run_tasks at machines {}",
                 what, last->placements, last->succeeded, last->queued, workers.run_tasks());
        next_report += std::chrono::seconds(3);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  RunResult RunOnce(const std::string& dir) {
    RunResult r;
    Servers s = StartServers(dir);
    BusOptions bo;
    bo.url = s.nats_url;
    bo.name = "scheduler-bench";
    // The simulated fleet stands in for 1,000 machines elsewhere; batching its writes keeps
    // its share of this host's two cores small.
    bo.write_at_once = false;
    auto bus = ConnectNats(std::move(bo));
    if (!bus) throw std::runtime_error("bench cannot connect to NATS: " + bus.error().message);
    {
      SimWorkers workers(**bus, "av", o_.publishers);
      if (auto st = workers.Start(); !st) {
        throw std::runtime_error("simulated workers cannot start: " + st.error().message);
      }
      for (const char* project : {"bench", "latency"}) {
        auto p = s.controller->Call("POST", "/v1/projects", std::nullopt,
                                    fmt::format(R"({{"name":"{}"}})", project));
        if (!p || p->status != 201) throw std::runtime_error("cannot create project");
      }

      // Phase 1: queue every task while no machine can take one.
      Progress("queueing {} tasks over {} connections", o_.tasks, o_.submit_threads);
      const auto sub_start = SteadyClock::now();
      Submit(s, "bench", o_.tasks, o_.submit_threads, 0, r.error);
      if (!r.error.empty()) return r;
      r.submit_per_s = static_cast<double>(o_.tasks) / Seconds(SteadyClock::now() - sub_start);
      Progress("  queued in {:.1f} s ({:.0f} submissions/s)",
               Seconds(SteadyClock::now() - sub_start), r.submit_per_s);

      MetricsSampler sampler(s.controller->base_url() + "/metrics", s.controller->process().pid());
      SimFleet fleet(**bus, "av", o_.machines, SimMachineSpec{{"shell"}, 1, "scheduler"});
      const CpuSnapshot cpu_a = TakeCpu(s);
      const double handler_a = workers.handler_busy_s();
      Progress("registering {} machines", o_.machines);
      std::string reg_error;
      std::thread registrar([&] {
        const auto t0 = SteadyClock::now();
        if (auto st = fleet.RegisterUpTo(o_.machines, o_.register_threads); !st) {
          reg_error = st.error().message;
          return;
        }
        r.register_s = Seconds(SteadyClock::now() - t0);
        fleet.StartHeartbeats(fleet.controller_interval());
        fleet.SetActive(o_.machines);
      });
      const double n = static_cast<double>(o_.tasks);
      const bool all_done = WaitFor(s, sampler, workers, "placing", [&](const auto& m) {
        return m.succeeded >= n || m.succeeded + m.failed >= n;
      });
      const CpuSnapshot cpu_b = TakeCpu(s);
      r.sim_handler_busy = (workers.handler_busy_s() - handler_a) / Seconds(cpu_b.at - cpu_a.at);
      registrar.join();
      if (!reg_error.empty()) {
        r.error = "registration failed: " + reg_error;
        return r;
      }
      if (!all_done) {
        r.error = fmt::format("not every task succeeded within {} s", o_.phase_timeout_s);
      }
      Phase1Figures(r, workers.Arrivals(), sampler.samples(), cpu_a, cpu_b, s);
      const auto sim_side = workers.SimSideMs();
      const auto turnaround = workers.TurnaroundMs();
      r.sim_side_p50_ms = Quantile(sim_side, 0.5);
      r.sim_side_p99_ms = Quantile(sim_side, 0.99);
      r.turnaround_p50_ms = Quantile(turnaround, 0.5);
      r.turnaround_p99_ms = Quantile(turnaround, 0.99);
      r.controller_rss_mb = sampler.max_rss_mb();
      Progress(
          "  placed {} tasks: {:.0f}/s (steady {:.0f}/s, controller counter {:.0f}/s), all "
          "succeeded after {:.1f} s; controller cpu {:.2f} cores, rss {:.0f} MB; nats {:.2f}, "
          "bench {:.2f}, others {:.2f} cores",
          o_.tasks, r.placements_per_s, r.placements_per_s_steady, r.placements_per_s_metrics,
          r.all_succeeded_s, r.controller_cpu, r.controller_rss_mb, r.nats_cpu, r.bench_cpu,
          r.others_cpu);
      Progress(
          "  a slot's cycle: RunTask at the machine -> its finish event stored p50 {:.1f} ms "
          "p99 {:.1f} ms; event stored -> next RunTask at that machine p50 {:.1f} ms p99 {:.1f} "
          "ms; controller owner thread {:.2f} cores; threads {}; simulated command handler busy "
          "{:.0f}% of the time",
          r.sim_side_p50_ms, r.sim_side_p99_ms, r.turnaround_p50_ms, r.turnaround_p99_ms,
          r.owner_thread_cpu, r.controller_threads, 100 * r.sim_handler_busy);

      // Phase 2: latency with an idle fleet.
      if (all_done && o_.latency_tasks > 0) {
        workers.ClearArrivals();
        Progress("latency: {} tasks at {:.0f}/s", o_.latency_tasks, o_.latency_rate);
        const auto lat_start = SteadyClock::now();
        auto subs =
            Submit(s, "latency", o_.latency_tasks, o_.submit_threads, o_.latency_rate, r.error);
        r.latency_submit_per_s =
            static_cast<double>(o_.latency_tasks) / Seconds(SteadyClock::now() - lat_start);
        if (!r.error.empty()) return r;
        const double total = n + static_cast<double>(o_.latency_tasks);
        if (!WaitFor(s, sampler, workers, "latency",
                     [&](const auto& m) { return m.succeeded + m.failed >= total; })) {
          r.error = "latency tasks did not all finish";
        }
        LatencyFigures(r, subs, workers.Arrivals(), s);
        Progress(
            "  submit-to-running p50 {:.2f} ms p99 {:.2f} ms max {:.2f} ms (API started_at - "
            "created_at p50 {:.0f} ms p99 {:.0f} ms); POST p50 {:.2f} ms",
            r.latency_p50_ms, r.latency_p99_ms, r.latency_max_ms, r.api_latency_p50_ms,
            r.api_latency_p99_ms, r.post_p50_ms);
      }
      if (auto last = sampler.last()) {
        r.requeued = last->requeued;
        r.lost = last->lost;
        r.failed = last->failed;
      }
      r.duplicates = workers.duplicate_runs();
      r.overlaps = workers.overlaps();
      r.cancels = workers.cancels();
      r.publish_retries = workers.publish_retries();
      r.publish_failures = workers.publish_failures();
      fleet.StopHeartbeats();
      workers.Stop();
    }
    bus->reset();
    s.controller->Kill();
    return r;
  }

  void Phase1Figures(RunResult& r, std::vector<SimWorkers::Arrival> arrivals,
                     const std::vector<MetricsSampler::Sample>& samples, const CpuSnapshot& a,
                     const CpuSnapshot& b, Servers& s) {
    std::sort(arrivals.begin(), arrivals.end(),
              [](const auto& x, const auto& y) { return x.at < y.at; });
    const size_t got = arrivals.size();
    if (got >= 2) {
      const size_t last = std::min(got, o_.tasks) - 1;
      r.place_all_s = Seconds(arrivals[last].at - arrivals[0].at);
      r.placements_per_s = static_cast<double>(last) / std::max(r.place_all_s, 1e-9);
      const size_t i10 = last / 10;
      const size_t i90 = last * 9 / 10;
      if (i90 > i10) {
        r.placements_per_s_steady = static_cast<double>(i90 - i10) /
                                    std::max(Seconds(arrivals[i90].at - arrivals[i10].at), 1e-9);
      }
      const double n = static_cast<double>(o_.tasks);
      for (const auto& m : samples) {
        if (m.succeeded >= n) {
          r.all_succeeded_s = Seconds(m.at - arrivals[0].at);
          break;
        }
      }
      // The controller's counter: rate between the first samples past 10% and past 90%.
      const MetricsSampler::Sample* s10 = nullptr;
      const MetricsSampler::Sample* s90 = nullptr;
      for (const auto& m : samples) {
        if (!s10 && m.placements >= 0.1 * n) s10 = &m;
        if (!s90 && m.placements >= 0.9 * n) s90 = &m;
      }
      if (s10 && s90 && s90->at > s10->at) {
        r.placements_per_s_metrics =
            (s90->placements - s10->placements) / Seconds(s90->at - s10->at);
      }
    }
    const double secs = Seconds(b.at - a.at);
    r.controller_cpu_s = b.controller - a.controller;
    r.controller_cpu = r.controller_cpu_s / secs;
    r.nats_cpu = (b.nats - a.nats) / secs;
    r.bench_cpu = (b.bench - a.bench) / secs;
    r.others_cpu =
        CpuSecondsBetween(a.all, b.all, {s.controller->process().pid(), s.nats.pid(), getpid()}) /
        secs;
    // Per thread: the owner thread (tid == pid) shows whether the single-threaded core is
    // the limit; the rest are NATS.c and the blocking pool.
    const pid_t pid = s.controller->process().pid();
    std::vector<std::pair<double, std::string>> busiest;
    for (const auto& [tid, nb] : b.controller_threads) {
      auto it = a.controller_threads.find(tid);
      const double used = nb.second - (it == a.controller_threads.end() ? 0 : it->second.second);
      if (tid == pid) r.owner_thread_cpu = used / secs;
      busiest.push_back(
          {used / secs, fmt::format("{}/{}", nb.first, tid == pid ? "main" : std::to_string(tid))});
    }
    std::sort(busiest.rbegin(), busiest.rend());
    for (size_t i = 0; i < busiest.size() && i < 6; ++i) {
      if (!r.controller_threads.empty()) r.controller_threads += " ";
      r.controller_threads += fmt::format("{}={:.2f}", busiest[i].second, busiest[i].first);
    }
  }

  void LatencyFigures(RunResult& r, const std::vector<Submitted>& subs,
                      const std::vector<SimWorkers::Arrival>& arrivals, Servers& s) {
    std::unordered_map<std::string, SteadyClock::time_point> arrived;
    for (const auto& a : arrivals) arrived.emplace(a.task_id, a.at);
    std::vector<double> from_sent, from_answer, post;
    for (const auto& sub : subs) {
      post.push_back(Ms(sub.answered - sub.sent));
      auto it = arrived.find(sub.id);
      if (it == arrived.end()) continue;
      from_sent.push_back(Ms(it->second - sub.sent));
      // Can be negative: the RunTask may reach the machine before the 201 reaches the client.
      from_answer.push_back(Ms(it->second - sub.answered));
    }
    r.latency_measured = from_sent.size();
    r.latency_p50_ms = Quantile(from_sent, 0.50);
    r.latency_p99_ms = Quantile(from_sent, 0.99);
    r.latency_max_ms = Quantile(from_sent, 1.0);
    r.latency_from_answer_p50_ms = Quantile(from_answer, 0.50);
    r.latency_from_answer_p99_ms = Quantile(from_answer, 0.99);
    r.post_p50_ms = Quantile(post, 0.50);
    r.post_p99_ms = Quantile(post, 0.99);
    // Cross-check with the controller's own timestamps (ms resolution).
    ApiConnection api(s.controller->port(), s.controller->token());
    auto reply = api.Send(
        http::verb::get,
        fmt::format("/v1/tasks?project=latency&state=succeeded&limit={}", o_.latency_tasks), "");
    if (!reply || reply->status != 200) return;
    boost::system::error_code ec;
    auto v = json::parse(reply->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("tasks")) return;
    std::vector<double> api_ms;
    for (const auto& t : v.at("tasks").as_array()) {
      const auto& o = t.as_object();
      const auto* c = o.if_contains("created_at");
      const auto* st = o.if_contains("started_at");
      if (!c || !st || !c->is_string() || !st->is_string()) continue;
      auto cm = ParseRfc3339Ms(c->as_string());
      auto sm = ParseRfc3339Ms(st->as_string());
      if (cm && sm) api_ms.push_back(static_cast<double>(*sm - *cm));
    }
    r.api_latency_p50_ms = Quantile(api_ms, 0.50);
    r.api_latency_p99_ms = Quantile(api_ms, 0.99);
  }

  void PrintRun(int index, const RunResult& r) const {
    JsonLine line;
    line.Str("bench", "scheduler").Int("run", index);
    if (!r.error.empty()) line.Str("error", r.error);
    line.Int("machines", static_cast<int64_t>(o_.machines))
        .Int("tasks", static_cast<int64_t>(o_.tasks))
        .Num("placements_per_s", r.placements_per_s, 0)
        .Num("placements_per_s_steady", r.placements_per_s_steady, 0)
        .Num("placements_per_s_controller_counter", r.placements_per_s_metrics, 0)
        .Num("place_all_s", r.place_all_s, 2)
        .Num("all_succeeded_s", r.all_succeeded_s, 2)
        .Num("submit_per_s", r.submit_per_s, 0)
        .Num("register_s", r.register_s, 2)
        .Num("controller_cpu_cores", r.controller_cpu, 2)
        .Num("controller_cpu_s", r.controller_cpu_s, 1)
        .Num("controller_rss_max_mb", r.controller_rss_mb, 1)
        .Num("nats_cpu_cores", r.nats_cpu, 2)
        .Num("bench_cpu_cores", r.bench_cpu, 2)
        .Num("others_cpu_cores", r.others_cpu, 2)
        .Num("controller_owner_thread_cpu_cores", r.owner_thread_cpu, 2)
        .Str("controller_busiest_threads_cores", r.controller_threads)
        .Num("slot_sim_side_p50_ms", r.sim_side_p50_ms, 2)
        .Num("slot_sim_side_p99_ms", r.sim_side_p99_ms, 2)
        .Num("slot_controller_turnaround_p50_ms", r.turnaround_p50_ms, 2)
        .Num("slot_controller_turnaround_p99_ms", r.turnaround_p99_ms, 2)
        .Num("sim_command_handler_busy", r.sim_handler_busy, 3)
        .Int("latency_tasks", static_cast<int64_t>(r.latency_measured))
        .Num("latency_rate_per_s", r.latency_submit_per_s, 0)
        .Num("submit_to_running_p50_ms", r.latency_p50_ms, 2)
        .Num("submit_to_running_p99_ms", r.latency_p99_ms, 2)
        .Num("submit_to_running_max_ms", r.latency_max_ms, 2)
        .Num("answer_to_running_p50_ms", r.latency_from_answer_p50_ms, 2)
        .Num("answer_to_running_p99_ms", r.latency_from_answer_p99_ms, 2)
        .Num("api_started_minus_created_p50_ms", r.api_latency_p50_ms, 0)
        .Num("api_started_minus_created_p99_ms", r.api_latency_p99_ms, 0)
        .Num("post_p50_ms", r.post_p50_ms, 2)
        .Num("post_p99_ms", r.post_p99_ms, 2)
        .Num("requeued", r.requeued, 0)
        .Num("failed", r.failed, 0)
        .Num("lost_machines", r.lost, 0)
        .Int("duplicate_run_tasks", static_cast<int64_t>(r.duplicates))
        .Int("slot_overlaps", static_cast<int64_t>(r.overlaps))
        .Int("stale_cancels_seen", static_cast<int64_t>(r.cancels))
        .Int("event_publish_retries", static_cast<int64_t>(r.publish_retries))
        .Int("event_publish_failures", static_cast<int64_t>(r.publish_failures))
        .Print();
  }

  void PrintSummary(const std::vector<RunResult>& runs) const {
    auto median = [&](double RunResult::*field) {
      std::vector<double> v;
      for (const auto& r : runs) {
        if (r.error.empty() && std::isfinite(r.*field)) v.push_back(r.*field);
      }
      return Median(v);
    };
    int ok = 0;
    for (const auto& r : runs) ok += r.error.empty() ? 1 : 0;
    const double pps = median(&RunResult::placements_per_s);
    JsonLine line;
    line.Str("bench", "scheduler")
        .Str("summary", "median over runs")
        .Int("runs", static_cast<int64_t>(runs.size()))
        .Int("runs_ok", ok)
        .Int("machines", static_cast<int64_t>(o_.machines))
        .Int("tasks", static_cast<int64_t>(o_.tasks))
        .Num("placements_per_s", pps, 0)
        .Num("placements_per_s_steady", median(&RunResult::placements_per_s_steady), 0)
        .Num("placements_per_s_controller_counter", median(&RunResult::placements_per_s_metrics), 0)
        .Num("all_succeeded_s", median(&RunResult::all_succeeded_s), 2)
        .Num("submit_to_running_p50_ms", median(&RunResult::latency_p50_ms), 2)
        .Num("submit_to_running_p99_ms", median(&RunResult::latency_p99_ms), 2)
        .Num("api_started_minus_created_p50_ms", median(&RunResult::api_latency_p50_ms), 0)
        .Num("api_started_minus_created_p99_ms", median(&RunResult::api_latency_p99_ms), 0)
        .Num("controller_cpu_cores", median(&RunResult::controller_cpu), 2)
        .Num("controller_rss_max_mb", median(&RunResult::controller_rss_mb), 1)
        .Num("others_cpu_cores", median(&RunResult::others_cpu), 2)
        .Num("target_placements_per_s", kTargetPlacementsPerSecond, 0)
        .Bool("target_met", ok > 0 && pps >= kTargetPlacementsPerSecond)
        .Num("ratio_vs_nomad_c1m", pps / kNomadC1mPerSecond, 2)
        .Num("ratio_vs_kubernetes_ci", pps / kKubernetesCiPerSecond, 1)
        .Str("references",
             "Nomad C1M: ~3,750 containers/s with 5 servers; kube-scheduler CI: >= 270 pods/s at "
             "5,000 nodes")
        .Str("machine",
             fmt::format("{} cores shared by the controller, nats-server, this load generator "
                         "(every simulated machine) and whatever else runs on the host "
                         "(others_cpu_cores)",
                         std::thread::hardware_concurrency()))
        .Print();
  }

  Options o_;
};

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options o;
  CLI::App app{
      "Placement throughput and latency of one autovibe-controller (JSON lines on stdout)"};
  app.add_option("--tasks", o.tasks, "no-op tasks queued before the fleet registers");
  app.add_option("--machines", o.machines, "simulated machines (one task slot each)");
  app.add_option("--runs", o.runs, "runs, each with a fresh controller and nats-server (median)");
  app.add_option("--latency-tasks", o.latency_tasks, "tasks submitted paced for latency (0: skip)");
  app.add_option("--latency-rate", o.latency_rate, "submissions per second in the latency phase");
  app.add_option("--submit-threads", o.submit_threads, "API connections submitting tasks");
  app.add_option("--register-threads", o.register_threads, "registration requests in flight");
  app.add_option("--publishers", o.publishers, "TaskFinished events in flight to JetStream");
  app.add_option("--phase-timeout", o.phase_timeout_s, "seconds a phase may take before it fails");
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("scheduler_bench", "warn");  // stdout is for figures only
  try {
    return autovibe::bench::SchedulerBench(o).Run();
  } catch (const std::exception& e) {
    autovibe::bench::Progress("scheduler bench failed: {}", e.what());
    return 1;
  }
}
