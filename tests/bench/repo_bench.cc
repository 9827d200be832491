// repo_bench: how long a repository task waits for its workspace (issue 18, "Measured").
//
// A generated repository (20,000 files, 2,000 commits by default) is served by a real
// `git daemon` on loopback; a real nats-server, controller and agent (build/bin, boxed tasks as
// shipped) run repository tasks submitted over the HTTP API, `"repo": {"url": "git://..."}`.
// A task's start is timed from the agent's log line "task T attempt 1 received" (logged when
// the RunTask command arrives) to the first thing its tool does, `date +%s%N`, read back from
// the task's logs through the API: both the machine's real-time clock, the first to the
// millisecond. Each run starts a fresh agent (a machine that never saw the repository) and
// times:
//   first          the first task on the machine (the mirror is cloned, the files checked out)
//   second         the next task on the same repository, once the first has ended and the
//                  agent logged its spare checkout ready (worker-agent/repo/spare.h)
//   back_to_back   one more, submitted the moment the second ended (its spare may still be in
//                  the making: it waits for it)
// and, in the same run, a plain `git clone` of the same URL onto the same disk. Disk: the
// space the second task's workspace adds to the agent's (`du`, hard links counted once, after
// the mirror, the spare and the first workspace) over its checkout's (its files, no .git).
// Targets: second under 1 s and at least 10x faster than the clone; disk at most 1.1x.
// Needs root and bubblewrap (boxed tasks). Run it with ./scripts/bench.sh repo.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "common/core/run_program.h"
#include "tests/bench/bench_output.h"
#include "tests/bench/generated_repo.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kTargetSecondMs = 1000;
constexpr double kTargetSpeedup = 10;
constexpr double kTargetDiskRatio = 1.1;

struct Options {
  int runs = 5;
  bool verbose = false;
  RepoShape shape;
};

// The agent's log line holding `needle`: its time (Unix ms) and the line.
struct LogLine {
  double unix_ms = 0;
  std::string text;
};

std::optional<LogLine> FindLogLine(const std::string& log, const std::string& needle) {
  const size_t at = log.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const size_t begin = log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at) + 1;
  const size_t end = log.find('\n', at);
  LogLine line{0, log.substr(begin, end == std::string::npos ? end : end - begin)};
  std::tm tm{};
  int millis = 0;
  // "2025-01-02T03:04:05.678Z info autovibe-agent ..."
  if (sscanf(line.text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  line.unix_ms = static_cast<double>(timegm(&tm)) * 1000 + millis;
  return line;
}

// The number after "ready in " in a log line ("... ready in 123 ms"); NaN when absent.
double ReadyInMs(const std::optional<LogLine>& line) {
  if (!line) return std::nan("");
  const size_t at = line->text.find(" ready in ");
  return at == std::string::npos ? std::nan("") : std::atof(line->text.c_str() + at + 10);
}

// `du -sk` of each path in order; hard links are counted once, where first seen.
std::vector<double> DuKb(std::vector<std::string> paths, bool without_git = false) {
  std::vector<std::string> argv = {"du", "-sk"};
  if (without_git) argv.push_back("--exclude=.git");
  argv.insert(argv.end(), paths.begin(), paths.end());
  auto out = RunProgram({.argv = argv, .stdout_apart = true});
  std::vector<double> kb;
  if (!out) return kb;
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) kb.push_back(std::atof(line.c_str()));
  return kb;
}

struct TaskTiming {
  std::string id;
  double start_ms = 0;  // RunTask received to the tool's first command
  double repo_ms = 0;   // the agent's "repository ... ready in N ms"
  double spawn_ms = 0;  // RunTask received to the agent's "started tool" line
};

class RepoBench {
 public:
  explicit RepoBench(const Options& opt) : opt_(opt) {}

  int Main() {
    Progress("generating the repository: {} files, {} commits, {} bytes a file", opt_.shape.files,
             opt_.shape.commits, opt_.shape.file_bytes);
    const auto gen_start = Clock::now();
    if (auto made = GenerateRepo(dir_ / "served/r.git", opt_.shape); !made) {
      Progress("cannot make the repository: {}", made.error().message);
      return 1;
    }
    Progress("generated in {:.1f} s", Ms(gen_start) / 1000);
    daemon_ = std::make_unique<GitDaemon>(dir_ / "served", dir_ / "git-daemon.log");
    if (!daemon_->Ready()) {
      Progress("git daemon did not start");
      return 1;
    }
    url_ = daemon_->Url("r.git");
    nats_ = std::make_unique<testing::NatsServer>(dir_ / "nats");
    controller_ = std::make_unique<testing::ControllerProcess>(dir_ / "controller", nats_->url());
    if (!controller_->CallJson("POST", "/v1/projects", json::object{{"name", "bench"}})) {
      Progress("cannot create the project");
      return 1;
    }
    std::map<std::string, std::vector<double>> figures;
    for (int run = 0; run < opt_.runs; ++run) {
      if (!Run(run, figures)) return 1;
    }
    PrintSummary(figures);
    return 0;
  }

 private:
  static double Ms(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  }

  // A plain `git clone` of the served repository onto the bench's disk, as a user runs it.
  double TimeClone(int run) {
    const std::string dest = dir_ / ("clone-" + std::to_string(run));
    fs::create_directories(dir_ / "home");
    const auto begin = Clock::now();
    auto cloned = RunProgram(
        {.argv = {"git", "clone", "--quiet", url_, dest},
         .timeout = 10min,
         .env = std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin",
                                         "HOME=" + (dir_ / "home"), "GIT_CONFIG_NOSYSTEM=1"}});
    const double ms = Ms(begin);
    if (!cloned) Progress("git clone failed: {}", cloned.error().message);
    std::error_code ec;
    fs::remove_all(dest, ec);
    return cloned ? ms : std::nan("");
  }

  std::optional<TaskTiming> RunTask(const std::string& box, const testing::ChildProcess& agent) {
    json::object body{{"project", "bench"},
                      {"tool", "shell"},
                      {"command", json::array{"sh", "-c", "date +%s%N"}},
                      {"repo", json::object{{"url", url_}}},
                      {"labels", json::object{{"box", box}}}};
    auto t = controller_->CallJson("POST", "/v1/tasks", body);
    if (!t) {
      Progress("cannot submit a task");
      return std::nullopt;
    }
    TaskTiming timing{.id = std::string(t->at("id").as_string())};
    std::string state;
    testing::WaitUntil(
        [&] {
          auto task = controller_->CallJson("GET", "/v1/tasks/" + timing.id);
          state = task ? std::string(task->at("state").as_string()) : "";
          return state == "succeeded" || state == "failed" || state == "cancelled";
        },
        5min, 50ms);
    if (state != "succeeded") {
      auto task = controller_->CallJson("GET", "/v1/tasks/" + timing.id);
      Progress("task {} is {}: {}\nthe agent's log:\n{}", timing.id, state,
               task ? json::serialize(*task) : "", agent.Log());
      return std::nullopt;
    }
    auto logs = controller_->CallJson("GET", "/v1/tasks/" + timing.id + "/logs?after=0");
    std::string out;
    if (logs) {
      for (const auto& c : logs->at("chunks").as_array()) out += c.at("data").as_string();
    }
    const double tool_unix_ms = std::atof(out.c_str()) / 1e6;
    const std::string log = agent.Log();
    auto received = FindLogLine(log, "task " + timing.id + " attempt 1 received");
    if (!received || tool_unix_ms <= 0) {
      Progress("task {}: no start time (tool printed \"{}\")", timing.id, out);
      return std::nullopt;
    }
    timing.start_ms = tool_unix_ms - received->unix_ms;
    timing.repo_ms = ReadyInMs(FindLogLine(log, "task " + timing.id + " repository "));
    auto spawned = FindLogLine(log, "task " + timing.id + " attempt 1 started tool");
    timing.spawn_ms = spawned ? spawned->unix_ms - received->unix_ms : std::nan("");
    return timing;
  }

  bool Run(int run, std::map<std::string, std::vector<double>>& figures) {
    const double clone_ms = TimeClone(run);
    const std::string name = "bench-" + std::to_string(run);
    const std::string data = dir_ / name;
    auto agent = std::make_unique<testing::AgentProcess>(
        name, data, nats_->url(), std::vector<std::string>{"--label", "box=" + name});
    if (!testing::WaitUntil([&] { return controller_->MachineState(name) == "ready"; }, 30s)) {
      Progress("agent {} did not become ready", name);
      return false;
    }
    auto first = RunTask(name, agent->process());
    if (!first) return false;
    // The second task comes once the machine made its spare checkout (logged).
    const auto spare_wait = Clock::now();
    std::optional<LogLine> spare;
    testing::WaitUntil(
        [&] {
          spare = FindLogLine(agent->process().Log(), "spare checkout at");
          return spare.has_value();
        },
        5min, 50ms);
    if (!spare) Progress("run {}: no spare checkout was logged", run);
    const double waited_ms = Ms(spare_wait);
    auto spare_kb = DuKb({data + "/repos/mirrors", data + "/repos/spares"});
    auto second = RunTask(name, agent->process());
    if (!second) return false;
    auto back_to_back = RunTask(name, agent->process());
    if (!back_to_back) return false;
    if (opt_.verbose) {
      std::istringstream log(agent->process().Log());
      for (std::string line; std::getline(log, line);) {
        if (line.find(second->id) != std::string::npos) Progress("agent: {}", line);
      }
    }

    // The space the second workspace adds, after the mirror, the spare and the first.
    const std::string ws = data + "/workspaces/";
    auto kb = DuKb({data + "/repos", ws + first->id, ws + second->id});
    auto files_kb = DuKb({ws + second->id}, true);
    if (kb.size() != 3 || files_kb.size() != 1) {
      Progress("du failed");
      return false;
    }
    const double ratio = kb[2] / files_kb[0];
    JsonLine()
        .Str("bench", "repo")
        .Int("run", run)
        .Num("first_ms", first->start_ms, 1)
        .Num("first_repo_ms", first->repo_ms, 0)
        .Num("first_spawn_ms", first->spawn_ms, 0)
        .Num("second_ms", second->start_ms, 1)
        .Num("second_repo_ms", second->repo_ms, 0)
        .Num("second_spawn_ms", second->spawn_ms, 0)
        .Num("back_to_back_ms", back_to_back->start_ms, 1)
        .Num("clone_ms", clone_ms, 1)
        .Num("spare_ms", ReadyInMs(spare), 0)
        .Num("spare_waited_ms", waited_ms, 0)
        .Num("workspace_kb", kb[2], 0)
        .Num("checkout_kb", files_kb[0], 0)
        .Num("disk_ratio", ratio, 3)
        .Num("mirror_kb", spare_kb.empty() ? std::nan("") : spare_kb[0], 0)
        .Num("spare_kb", spare_kb.size() == 2 ? spare_kb[1] : std::nan(""), 0)
        .Print();
    figures["first_ms"].push_back(first->start_ms);
    figures["second_ms"].push_back(second->start_ms);
    figures["back_to_back_ms"].push_back(back_to_back->start_ms);
    figures["clone_ms"].push_back(clone_ms);
    figures["speedup"].push_back(clone_ms / second->start_ms);
    figures["disk_ratio"].push_back(ratio);
    figures["checkout_kb"].push_back(files_kb[0]);
    if (spare_kb.size() == 2) figures["spare_kb"].push_back(spare_kb[1]);
    agent.reset();
    std::error_code ec;
    fs::remove_all(data, ec);
    return true;
  }

  void PrintSummary(std::map<std::string, std::vector<double>>& f) {
    const double second = Median(f["second_ms"]);
    const double clone = Median(f["clone_ms"]);
    const double disk = Median(f["disk_ratio"]);
    JsonLine()
        .Str("bench", "repo")
        .Str("summary", "median over runs")
        .Int("runs", opt_.runs)
        .Int("files", opt_.shape.files)
        .Int("commits", opt_.shape.commits)
        .Int("file_bytes", opt_.shape.file_bytes)
        .Num("first_ms", Median(f["first_ms"]), 1)
        .Num("second_ms", second, 1)
        .Num("back_to_back_ms", Median(f["back_to_back_ms"]), 1)
        .Num("clone_ms", clone, 1)
        .Num("speedup", clone / second, 2)
        .Num("speedup_median_of_runs", Median(f["speedup"]), 2)
        .Num("disk_ratio", disk, 3)
        .Num("checkout_kb", Median(f["checkout_kb"]), 0)
        .Num("spare_kb", Median(f["spare_kb"]), 0)
        .Bool("meets_target", second < kTargetSecondMs && clone / second >= kTargetSpeedup &&
                                  disk <= kTargetDiskRatio)
        .Print();
  }

  const Options opt_;
  testing::TempDir dir_{"av-repo-bench"};
  std::unique_ptr<GitDaemon> daemon_;
  std::string url_;
  std::unique_ptr<testing::NatsServer> nats_;
  std::unique_ptr<testing::ControllerProcess> controller_;
};

int Main(int argc, char** argv) {
  Options opt;
  CLI::App app{"repo_bench: a repository task's start, first and second on a machine"};
  app.add_option("--runs", opt.runs, "runs, each on a fresh agent; figures are their medians")
      ->check(CLI::Range(1, 100));
  app.add_option("--files", opt.shape.files, "files in the repository")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--commits", opt.shape.commits, "commits in its history")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--file-bytes", opt.shape.file_bytes, "mean size of a file")
      ->check(CLI::Range(16, 1 << 20));
  app.add_flag("--verbose", opt.verbose, "show the agent's log lines about the second task");
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    Progress("needs root (the agent boxes tasks as their own users)");
    return 1;
  }
  return RepoBench(opt).Main();
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) { return autovibe::bench::Main(argc, argv); }
