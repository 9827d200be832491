// heartbeat_bench: how many agents one controller keeps up with.
//
// Starts a real nats-server and autovibe-controller (1 s heartbeats), then simulates N agents
// from this one process: registers each over av.register, then publishes one Heartbeat per
// machine per second, evenly spread. N ramps up step by step; at each step, after a warm-up,
// a few measurement windows read the controller's own /metrics (heartbeat lag histogram,
// heartbeats applied) and /proc (CPU, RSS). One JSON line per step on stdout, then a summary.
// Run it with ./scripts/bench.sh heartbeats.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "common/http/client.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/http_poller.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/prom_text.h"
#include "tests/bench/sim_fleet.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::ControllerProcess;

constexpr double kMaxSustainedLagP99Ms = 100;
constexpr double kMinAppliedFraction = 0.98;
constexpr double kPaceTolerance = 0.02;
constexpr size_t kTargetAgents = 10000;
constexpr double kNomadHeartbeatsPerSecond = 50;
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);

struct Options {
  std::vector<size_t> steps = {1000, 5000, 10000, 20000, 40000, 60000};
  int warmup_s = 5;
  int window_s = 10;
  int windows = 3;
  int register_threads = 16;
};

// What one measurement window starts or ends with.
struct Snapshot {
  SteadyClock::time_point at;
  std::string metrics;
  double controller_cpu = 0;
  double nats_cpu = 0;
  double bench_cpu = 0;
  std::map<pid_t, double> all_cpu;  // every process on the host
  uint64_t published = 0;
};

// Figures of one measurement window; rates per second, CPU in cores.
struct Window {
  double hb_per_s;  // heartbeats the controller applied
  double lag_p50_ms, lag_p99_ms;
  double controller_cpu, controller_rss_mb;
  double nats_cpu, bench_cpu;
  double others_cpu;     // every other process on the host (builds, tests), a lower bound
  double publish_per_s;  // heartbeats this load generator sent
  double unknown_per_s, lost_machines;
  double healthz_max_ms;  // slowest /healthz answer: how long the owner thread was blocked
};

struct Step {
  size_t agents = 0;
  std::vector<Window> windows;
  double register_per_s = 0;
  std::string error;

  double MedianOf(double Window::*field) const {
    std::vector<double> v;
    for (const auto& w : windows) v.push_back(w.*field);
    return Median(v);
  }
  bool KeptPace() const {
    return std::abs(MedianOf(&Window::publish_per_s) - static_cast<double>(agents)) <=
           kPaceTolerance * static_cast<double>(agents);
  }
  bool Sustained() const {
    return error.empty() && !windows.empty() &&
           MedianOf(&Window::lag_p99_ms) < kMaxSustainedLagP99Ms &&
           MedianOf(&Window::hb_per_s) >= kMinAppliedFraction * static_cast<double>(agents);
  }
};

class HeartbeatBench {
 public:
  HeartbeatBench(Options options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}

  int Run() {
    StartServers();
    BusOptions bo;
    bo.url = nats_url_;
    bo.name = "heartbeat-bench";
    auto bus = ConnectNats(std::move(bo));
    if (!bus) throw std::runtime_error("bench cannot connect to NATS: " + bus.error().message);
    size_t max_n = 0;
    for (size_t n : options_.steps) max_n = std::max(max_n, n);
    {
      SimFleet fleet(**bus, "av", max_n);
      fleet.StartHeartbeats(kHeartbeatInterval);
      for (size_t n : options_.steps) {
        Step step = RunStep(fleet, n);
        PrintStep(step);
        if (step.Sustained()) best_ = step;
        if (!step.Sustained() || !step.KeptPace()) break;  // the next step would fail too
      }
      fleet.StopHeartbeats();
    }
    bus->reset();
    ShutdownNatsLibrary();
    PrintSummary();
    return 0;
  }

 private:
  void StartServers() {
    const uint16_t port = testing::FreePort();
    nats_url_ = "nats://127.0.0.1:" + std::to_string(port);
    // No JetStream: heartbeats and registration are core NATS.
    nats_ = ChildProcess({"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port)},
                         dir_ + "/nats.log");
    if (!testing::WaitUntil([&] { return testing::PortOpen(port); }, std::chrono::seconds(10))) {
      throw std::runtime_error("nats-server did not start; log:\n" + nats_.Log());
    }
    controller_ = std::make_unique<ControllerProcess>(
        dir_ + "/controller", nats_url_,
        // An open bus: the simulated agents share one anonymous connection, and this measures
        // the controller's heartbeat path, not bus users.
        std::vector<std::string>{"--heartbeat-interval", "1s", "--heartbeat-ttl", "10s",
                                 "--insecure-bus"});
    Progress("nats-server pid {} at {}, controller pid {} at {}", nats_.pid(), nats_url_,
             controller_->process().pid(), controller_->base_url());
    // /healthz is answered on the owner thread that also handles heartbeats, so a slow answer
    // shows that thread was busy: stalls directly, where the lag histogram shows their effect.
    probe_ = std::make_unique<bench::HttpPoller>(controller_->base_url() + "/healthz",
                                                 std::chrono::milliseconds(20));
  }

  Step RunStep(SimFleet& fleet, size_t n) {
    Step step;
    step.agents = n;
    const size_t before = fleet.registered();
    Progress("step {} agents: registering {} more machines", n, n - before);
    const auto reg_start = SteadyClock::now();
    if (auto r = fleet.RegisterUpTo(n, options_.register_threads); !r) {
      step.error = "registration failed: " + r.error().message;
      return step;
    }
    const double reg_s = std::chrono::duration<double>(SteadyClock::now() - reg_start).count();
    step.register_per_s = static_cast<double>(n - before) / std::max(reg_s, 1e-6);
    if (fleet.controller_interval() != kHeartbeatInterval) {
      Progress("warning: controller asks for {} ms heartbeats, the bench sends every 1000 ms",
               fleet.controller_interval().count());
    }
    fleet.SetActive(n);
    Progress("step {} agents: registered in {:.1f} s; warming up {} s", n, reg_s,
             options_.warmup_s);
    std::this_thread::sleep_for(std::chrono::seconds(options_.warmup_s));
    for (int w = 0; w < options_.windows; ++w) {
      auto start = Take(fleet);
      if (!start) {
        step.error = "controller /metrics did not answer";
        return step;
      }
      std::this_thread::sleep_until(start->at + std::chrono::seconds(options_.window_s));
      auto end = Take(fleet);
      if (!end) {
        step.error = "controller /metrics did not answer";
        return step;
      }
      step.windows.push_back(Measure(*start, *end));
      const Window& m = step.windows.back();
      Progress(
          "  window {}: applied {:.0f}/s lag p50 {:.2f} ms p99 {:.2f} ms, controller cpu "
          "{:.2f} rss {:.1f} MB, healthz max {:.0f} ms | published {:.0f}/s; cpu nats {:.2f} "
          "bench {:.2f} others {:.2f}",
          w + 1, m.hb_per_s, m.lag_p50_ms, m.lag_p99_ms, m.controller_cpu, m.controller_rss_mb,
          m.healthz_max_ms, m.publish_per_s, m.nats_cpu, m.bench_cpu, m.others_cpu);
    }
    return step;
  }

  std::optional<Snapshot> Take(const SimFleet& fleet) {
    if (!controller_->process().Running()) return std::nullopt;
    HttpCall call;
    call.url = controller_->base_url() + "/metrics";
    call.timeout = std::chrono::seconds(20);  // an overloaded controller answers late
    auto reply = SendHttp(call);
    if (!reply || reply->status != 200) return std::nullopt;
    Snapshot s;
    s.at = SteadyClock::now();
    s.metrics = std::move(reply->body);
    s.controller_cpu = CpuSeconds(controller_->process().pid()).value_or(0);
    s.nats_cpu = CpuSeconds(nats_.pid()).value_or(0);
    s.bench_cpu = CpuSeconds(getpid()).value_or(0);
    s.all_cpu = CpuSecondsByProcess();
    s.published = fleet.published();
    return s;
  }

  Window Measure(const Snapshot& a, const Snapshot& b) {
    const double secs = std::chrono::duration<double>(b.at - a.at).count();
    auto rate = [&](std::string_view series) {
      return (PromValue(b.metrics, series).value_or(0) - PromValue(a.metrics, series).value_or(0)) /
             secs;
    };
    const auto lag = HistogramDelta(PromHistogramOf(a.metrics, "autovibe_heartbeat_lag_seconds"),
                                    PromHistogramOf(b.metrics, "autovibe_heartbeat_lag_seconds"));
    Window w{};
    w.hb_per_s = rate("autovibe_heartbeats_received_total");
    w.lag_p50_ms = HistogramQuantile(lag, 0.50) * 1000;
    w.lag_p99_ms = HistogramQuantile(lag, 0.99) * 1000;
    w.controller_cpu = (b.controller_cpu - a.controller_cpu) / secs;
    w.controller_rss_mb =
        static_cast<double>(StatusKb(controller_->process().pid(), "VmRSS").value_or(0)) / 1024;
    w.nats_cpu = (b.nats_cpu - a.nats_cpu) / secs;
    w.bench_cpu = (b.bench_cpu - a.bench_cpu) / secs;
    // Whatever else runs on the host (builds, other tests) competes for the same cores.
    w.others_cpu = CpuSecondsBetween(a.all_cpu, b.all_cpu,
                                     {controller_->process().pid(), nats_.pid(), getpid()}) /
                   secs;
    w.publish_per_s = static_cast<double>(b.published - a.published) / secs;
    w.unknown_per_s = rate("autovibe_heartbeats_unknown_total");
    w.lost_machines = PromValue(b.metrics, "autovibe_machines{state=\"lost\"}").value_or(0);
    w.healthz_max_ms = probe_->MaxMsBetween(a.at, b.at);
    return w;
  }

  void PrintStep(const Step& s) const {
    JsonLine line;
    line.Str("bench", "heartbeats").Int("agents", static_cast<int64_t>(s.agents));
    if (!s.error.empty()) line.Str("error", s.error);
    line.Num("hb_per_s", s.MedianOf(&Window::hb_per_s), 1)
        .Num("lag_p50_ms", s.MedianOf(&Window::lag_p50_ms), 3)
        .Num("lag_p99_ms", s.MedianOf(&Window::lag_p99_ms), 3)
        .Num("controller_cpu_cores", s.MedianOf(&Window::controller_cpu), 3)
        .Num("controller_rss_mb", s.MedianOf(&Window::controller_rss_mb), 1)
        .Bool("sustained", s.Sustained())
        .Num("published_per_s", s.MedianOf(&Window::publish_per_s), 1)
        .Bool("bench_kept_pace", !s.windows.empty() && s.KeptPace())
        .Num("nats_cpu_cores", s.MedianOf(&Window::nats_cpu), 3)
        .Num("bench_cpu_cores", s.MedianOf(&Window::bench_cpu), 3)
        .Num("others_cpu_cores", s.MedianOf(&Window::others_cpu), 3)
        .Num("unknown_hb_per_s", s.MedianOf(&Window::unknown_per_s), 1)
        .Num("lost_machines", s.MedianOf(&Window::lost_machines), 0)
        .Num("healthz_max_ms", s.MedianOf(&Window::healthz_max_ms), 1)
        .Num("register_per_s", s.register_per_s, 0)
        .Int("windows", static_cast<int64_t>(s.windows.size()))
        .Int("window_s", options_.window_s)
        .Print();
  }

  void PrintSummary() const {
    const size_t max_n = best_ ? best_->agents : 0;
    JsonLine line;
    line.Str("bench", "heartbeats")
        .Int("max_sustained_agents", static_cast<int64_t>(max_n))
        .Num("cpu_cores_at_max", best_ ? best_->MedianOf(&Window::controller_cpu) : NAN, 3)
        .Num("rss_mb_at_max", best_ ? best_->MedianOf(&Window::controller_rss_mb) : NAN, 1)
        .Int("target_agents", static_cast<int64_t>(kTargetAgents))
        .Bool("target_met", max_n >= kTargetAgents)
        .Str("reference", "nomad default heartbeat rate limit 50/s per server")
        .Num("ratio_vs_nomad", static_cast<double>(max_n) / kNomadHeartbeatsPerSecond, 1)
        .Str("sustained_means", "lag p99 < 100 ms and applied >= 98% of N/s (1 s heartbeats)")
        .Str("machine",
             fmt::format("{} cores shared by the controller, nats-server, this load generator "
                         "(one process simulating every agent) and whatever else runs on the "
                         "host (others_cpu_cores per step); the ceiling is the host's, not the "
                         "controller's alone",
                         std::thread::hardware_concurrency()))
        .Print();
  }

  Options options_;
  std::string dir_;
  std::string nats_url_;
  ChildProcess nats_;
  std::unique_ptr<ControllerProcess> controller_;
  std::unique_ptr<bench::HttpPoller> probe_;  // stops before the controller does
  std::optional<Step> best_;
};

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options options;
  CLI::App app{"Heartbeat throughput of one autovibe-controller (JSON lines on stdout)"};
  app.add_option("--steps", options.steps, "agent counts to ramp through")->delimiter(',');
  app.add_option("--warmup", options.warmup_s, "seconds of load before measuring a step");
  app.add_option("--window", options.window_s, "seconds per measurement window");
  app.add_option("--windows", options.windows, "measurement windows per step (median)");
  app.add_option("--register-threads", options.register_threads, "registration requests in flight");
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("heartbeat_bench", "warn");  // stdout is for figures only
  try {
    autovibe::testing::TempDir dir("autovibe-bench-hb");
    return autovibe::bench::HeartbeatBench(options, dir.path()).Run();
  } catch (const std::exception& e) {
    autovibe::bench::Progress("heartbeat bench failed: {}", e.what());
    return 1;
  }
}
