// ./scripts/bench.sh dashboard: how fast the dashboard draws a large fleet. A controller on
// loopback with 1,000 simulated machines (SimFleet: registered and heartbeating over the bus)
// and 10,000 queued tasks; tests/browser/bench.mjs then loads the dashboard in headless
// Chromium several times and reads Chromium's performance API. Prints each run's figures and
// their medians as JSON lines; the target is first render and interactive under 1 s.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <sstream>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/sim_fleet.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

using testing::ChildProcess;
using testing::ControllerProcess;

struct Options {
  size_t machines = 1000;
  size_t tasks = 10000;
  int runs = 5;
};

constexpr double kTargetMs = 1000;

void SubmitTasks(ControllerProcess& controller, size_t n) {
  auto made = controller.CallJson("POST", "/v1/projects", boost::json::object{{"name", "bench"}});
  if (!made) throw std::runtime_error("cannot create the project");
  // No machine has the tool "shell" (SimFleet machines say none): every task stays queued.
  for (size_t i = 0; i < n; ++i) {
    boost::json::object body{{"project", "bench"},
                             {"tool", "shell"},
                             {"command", boost::json::array{"echo", std::to_string(i)}}};
    if (!controller.CallJson("POST", "/v1/tasks", body)) {
      throw std::runtime_error("task " + std::to_string(i) + " was not accepted");
    }
  }
}

// The browser's figures: one JSON object per run.
std::vector<boost::json::object> Browse(const ControllerProcess& controller, const Options& o,
                                        const std::string& dir) {
  ChildProcess node({"/usr/bin/env", "AV_URL=" + controller.base_url(),
                     "AV_TOKEN=" + controller.token(), "AV_RUNS=" + std::to_string(o.runs), "node",
                     std::string(AV_SOURCE_DIR) + "/tests/browser/bench.mjs"},
                    dir + "/browser.log");
  const int code = node.Wait(std::chrono::minutes(10));
  if (code != 0) throw std::runtime_error("the browser failed:\n" + node.Log());
  std::vector<boost::json::object> runs;
  std::istringstream lines(node.Log());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (!ec && v.is_object() && v.as_object().contains("run")) runs.push_back(v.as_object());
  }
  return runs;
}

double Field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return NAN;
  return v->is_double() ? v->as_double() : static_cast<double>(v->to_number<int64_t>());
}

int Run(const Options& o, const std::string& dir) {
  testing::NatsServer nats(dir + "/nats",
                           testing::InsecureBus{"simulated machines register without users"});
  ControllerProcess controller(dir + "/controller", nats.url(),
                               std::vector<std::string>{"--insecure-bus"});
  BusOptions bo;
  bo.url = nats.url();
  bo.name = "dashboard-bench";
  auto bus = ConnectNats(std::move(bo));
  if (!bus) throw std::runtime_error("cannot connect to NATS: " + bus.error().message);
  SimFleet fleet(**bus, "av", o.machines, SimMachineSpec{{}, 1, "dashboard"});
  Progress("dashboard bench: registering {} machines", o.machines);
  if (auto r = fleet.RegisterUpTo(o.machines, 16); !r) throw std::runtime_error(r.error().message);
  fleet.StartHeartbeats(fleet.controller_interval());
  fleet.SetActive(o.machines);
  Progress("dashboard bench: submitting {} tasks", o.tasks);
  SubmitTasks(controller, o.tasks);
  Progress("dashboard bench: {} browser runs", o.runs);
  const auto runs = Browse(controller, o, dir);
  fleet.StopHeartbeats();
  if (runs.empty()) throw std::runtime_error("the browser reported no run");
  const char* keys[] = {"fcp_ms",          "first_render_ms", "interactive_ms",
                        "longest_task_ms", "tasks_view_ms",   "filter_ms"};
  std::map<std::string, std::vector<double>> all;
  for (const auto& r : runs) {
    JsonLine line;
    line.Str("bench", "dashboard").Str("figure", "run").Int("run", Field(r, "run"));
    for (const char* k : keys) {
      line.Num(k, Field(r, k), 1);
      all[k].push_back(Field(r, k));
    }
    line.Print();
  }
  JsonLine summary;
  summary.Str("bench", "dashboard")
      .Str("figure", "median")
      .Int("machines", static_cast<int64_t>(o.machines))
      .Int("tasks", static_cast<int64_t>(o.tasks))
      .Int("runs", static_cast<int64_t>(runs.size()));
  for (const char* k : keys) summary.Num(k, Median(all[k]), 1);
  const bool met =
      Median(all["first_render_ms"]) < kTargetMs && Median(all["interactive_ms"]) < kTargetMs;
  summary.Num("target_ms", kTargetMs, 0).Bool("target_met", met);
  summary.Print();
  return 0;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) {
  autovibe::bench::Options o;
  CLI::App app{"Time to first render and to interactive of the dashboard (JSON lines on stdout)"};
  app.add_option("--machines", o.machines, "simulated machines");
  app.add_option("--tasks", o.tasks, "queued tasks");
  app.add_option("--runs", o.runs, "browser loads (median)");
  CLI11_PARSE(app, argc, argv);
  autovibe::InitLogging("dashboard_bench", "warn");
  try {
    autovibe::testing::TempDir dir("autovibe-bench-dash");
    return autovibe::bench::Run(o, dir.path());
  } catch (const std::exception& e) {
    autovibe::bench::Progress("dashboard bench failed: {}", e.what());
    return 1;
  }
}
