// isolation_bench: what the box costs a task's start (README.md, "Security"). Times the agent's
// runner from deciding to start a tool until the tool's first output arrives (it runs), with
// the task unboxed (task_user = "root"), boxed (its own user and namespaces through bubblewrap)
// and boxed with a proxy-only network. The box's part includes lending a uid, handing over the
// workspace and HOME, and the keeper's namespaces and mounts. Target: under 20 ms added at p50.
// Then how long the agent's owner thread is held while a workspace of --workspace-files files
// (a restored checkpoint) is handed to its task user: the longest gap between the ticks of a
// 1 ms timer on that thread, from asking for the box until it is ready.
// Real processes; needs root and bubblewrap. Run it with ./scripts/bench.sh isolation.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <optional>

#include "tests/bench/bench_output.h"
#include "tests/support/process.h"
#include "worker-agent/runner/task_box.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr double kTargetAddedMs = 20;

struct Options {
  int runs = 5;
  int starts = 30;
  int workspace_files = 30000;
};

enum class Mode { kUnboxed, kBoxed, kProxyOnly };

const char* ModeName(Mode m) {
  return m == Mode::kUnboxed ? "off" : m == Mode::kBoxed ? "on" : "proxy-only";
}

// The box's answer (TaskBoxes::Prepare), running `ioc` until it comes. `longest_gap`: the
// longest the thread running `ioc` went without a turn meanwhile (ticks of a 1 ms timer).
// `call`: how long Prepare itself took.
Result<runner::BoxedTask> PrepareNow(boost::asio::io_context& ioc, runner::TaskBoxes& boxes,
                                     const std::string& id, const std::string& workspace,
                                     double* longest_gap = nullptr, double* call = nullptr) {
  std::optional<Result<runner::BoxedTask>> answer;
  auto last = SteadyClock::now();
  double gap = 0;
  auto turn = [&] {
    const auto now = SteadyClock::now();
    gap = std::max(gap, std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  };
  boost::asio::steady_timer tick(ioc);
  std::function<void()> next = [&] {
    tick.expires_after(1ms);
    tick.async_wait([&](boost::system::error_code ec) {
      if (ec || answer) return;
      turn();
      next();
    });
  };
  if (longest_gap != nullptr) next();
  boxes.Prepare(id, workspace, 40123, [&](Result<runner::BoxedTask> r) {
    turn();
    answer = std::move(r);
  });
  turn();  // how long Prepare itself held the thread
  if (call != nullptr) *call = gap;
  const auto deadline = SteadyClock::now() + 60s;
  while (!answer && SteadyClock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  tick.cancel();
  if (ioc.stopped()) ioc.restart();
  ioc.poll();
  if (longest_gap != nullptr) *longest_gap = gap;
  if (!answer) return MakeError(ErrorCode::kTimeout, "the box was not ready within 60 s");
  return std::move(*answer);
}

// A workspace of `files` empty files, 100 to a directory, owned by root as a restore leaves it.
void MakeWorkspace(const std::string& dir, int files) {
  for (int d = 0; d * 100 < files; ++d) {
    const std::string sub = dir + "/d" + std::to_string(d);
    std::filesystem::create_directories(sub);
    for (int f = 0; f < 100 && d * 100 + f < files; ++f) {
      close(open((sub + "/f" + std::to_string(f)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    }
  }
}

// How long the owner thread is held while a big workspace is handed over (median over runs).
bool MeasureBigWorkspace(boost::asio::io_context& ioc, runner::TaskBoxes& boxes,
                         const std::string& data, const Options& opt) {
  const std::string workspace = data + "/workspaces/big";
  MakeWorkspace(workspace, opt.workspace_files);
  std::vector<double> gaps, calls, ready;
  for (int run = 0; run < opt.runs; ++run) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(workspace)) {
      lchown(e.path().c_str(), 0, 0);
    }
    double gap = 0, call = 0;
    const auto begin = SteadyClock::now();
    auto boxed = PrepareNow(ioc, boxes, "big", workspace, &gap, &call);
    if (!boxed) {
      Progress("cannot box the big workspace: {}", boxed.error().message);
      return false;
    }
    ready.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - begin).count());
    gaps.push_back(gap);
    calls.push_back(call);
  }
  JsonLine()
      .Str("bench", "isolation")
      .Str("summary", "big workspace, median over runs")
      .Int("workspace_files", opt.workspace_files)
      .Num("box_ready_ms", Median(ready))
      .Num("prepare_call_ms", Median(calls))
      .Num("owner_thread_longest_hold_ms", Median(gaps))
      .Print();
  return true;
}

// One start: decide, start, first output. Milliseconds, or nothing when it failed.
std::optional<double> StartOnce(boost::asio::io_context& ioc, runner::TaskBoxes* boxes,
                                const std::string& workspace, int n) {
  const auto begin = SteadyClock::now();
  ToolProcessOptions o;
  o.argv = {"/bin/echo", "ready"};
  o.env = {{"PATH", "/usr/bin:/bin"}};
  o.cwd = workspace;
  runner::UniqueFd channel;
  if (boxes != nullptr) {
    auto boxed = PrepareNow(ioc, *boxes, "bench-" + std::to_string(n), workspace);
    if (!boxed) {
      Progress("cannot box: {}", boxed.error().message);
      return std::nullopt;
    }
    runner::BoxEnvironment(o.env, boxed->home);
    o.limits = boxes->Limits(o.limits);
    o.box = boxed->launch;
    o.keep_until_reaped = boxed->hold;
    channel = std::move(boxed->listener_channel);
  }
  std::optional<SteadyClock::time_point> first_output;
  bool exited = false;
  auto p = StartToolProcess(
      ioc, std::move(o),
      [&](OutputStream, std::string_view) {
        if (!first_output) first_output = SteadyClock::now();
      },
      [&](const ToolExit&) { exited = true; });
  if (!p) {
    Progress("cannot start: {}", p.error().message);
    return std::nullopt;
  }
  if (channel.get() >= 0) {
    const int listener = runner::ReceiveListener(channel.get());
    if (listener >= 0) close(listener);
  }
  const auto deadline = SteadyClock::now() + 10s;
  while (!exited && SteadyClock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  p->reset();
  // Let the run's last handlers finish, so its uid is back before the next start.
  if (ioc.stopped()) ioc.restart();
  ioc.poll();
  if (!first_output) return std::nullopt;
  return std::chrono::duration<double, std::milli>(*first_output - begin).count();
}

int Main(int argc, char** argv) {
  Options opt;
  CLI::App app{"isolation_bench: task start with and without the box"};
  app.add_option("--runs", opt.runs, "runs; the summary is their median");
  app.add_option("--starts", opt.starts, "tool starts per run and mode");
  app.add_option("--workspace-files", opt.workspace_files,
                 "files in the big workspace handed over (0: skip that figure)");
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    Progress("needs root (the agent runs as root to lend task users)");
    return 1;
  }
  testing::TempDir dir("av-isolation-bench");
  const std::string data = dir / "data";
  const std::string workspace = data + "/workspaces/bench";
  std::filesystem::create_directories(workspace);
  boost::asio::io_context ioc;
  auto make = [&](box::TaskNetwork network) {
    runner::TaskBoxesOptions o;
    o.data_dir = data;
    o.slots = 2;
    o.settings.network = network;
    o.settings.uid_base = 62000;
    return std::make_unique<runner::TaskBoxes>(ioc, o);
  };
  auto boxed = make(box::TaskNetwork::kHost);
  auto proxy_only = make(box::TaskNetwork::kProxyOnly);
  std::map<Mode, std::vector<double>> p50s;
  int n = 0;
  for (int run = 0; run < opt.runs; ++run) {
    for (Mode mode : {Mode::kUnboxed, Mode::kBoxed, Mode::kProxyOnly}) {
      runner::TaskBoxes* boxes = mode == Mode::kUnboxed ? nullptr
                                 : mode == Mode::kBoxed ? boxed.get()
                                                        : proxy_only.get();
      std::vector<double> ms;
      for (int i = 0; i < opt.starts; ++i) {
        auto t = StartOnce(ioc, boxes, workspace, ++n);
        if (!t) return 1;
        ms.push_back(*t);
      }
      JsonLine()
          .Str("bench", "isolation")
          .Str("box", ModeName(mode))
          .Int("run", run)
          .Int("starts", opt.starts)
          .Num("p50_ms", Percentile(ms, 50))
          .Num("p90_ms", Percentile(ms, 90))
          .Print();
      p50s[mode].push_back(Percentile(ms, 50));
    }
  }
  const double off = Median(p50s[Mode::kUnboxed]);
  const double on = Median(p50s[Mode::kBoxed]);
  const double sealed = Median(p50s[Mode::kProxyOnly]);
  JsonLine()
      .Str("bench", "isolation")
      .Str("summary", "median over runs")
      .Num("start_p50_ms_unboxed", off)
      .Num("start_p50_ms_boxed", on)
      .Num("start_p50_ms_proxy_only", sealed)
      .Num("added_p50_ms", on - off)
      .Num("added_p50_ms_proxy_only", sealed - off)
      .Num("target_added_ms", kTargetAddedMs)
      .Bool("meets_target", on - off < kTargetAddedMs)
      .Print();
  if (opt.workspace_files > 0 && !MeasureBigWorkspace(ioc, *boxed, data, opt)) return 1;
  return 0;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) { return autovibe::bench::Main(argc, argv); }
