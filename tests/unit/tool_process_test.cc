// The tool runner against real processes: sh, env, cat, yes, sleep.
#include "worker-agent/runner/tool_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;
using testing::WaitUntil;
using Lines = std::vector<std::string>;

// What a caller of the runner sees of one run.
struct Seen {
  std::string out, err;
  std::optional<ToolExit> exit;
  std::chrono::steady_clock::time_point exited_at;
  size_t exit_calls = 0;
};

class Fixture {
 public:
  ToolProcessOptions Options(std::vector<std::string> argv) const {
    ToolProcessOptions o;
    o.argv = std::move(argv);
    o.env = {{"PATH", "/usr/bin:/bin"}};
    o.cwd = dir.path();
    o.grace = 2s;
    return o;
  }

  Result<std::unique_ptr<ToolProcess>> Start(ToolProcessOptions options) {
    return StartToolProcess(
        ioc, std::move(options),
        [this](OutputStream s, std::string_view data) {
          (s == OutputStream::kStdout ? seen.out : seen.err).append(data);
        },
        [this](const ToolExit& e) {
          seen.exit = e;
          seen.exited_at = std::chrono::steady_clock::now();
          ++seen.exit_calls;
        });
  }

  // Runs the io_context until `done` holds; false at the deadline.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = 5s) {
    return testing::RunUntil(ioc, done, deadline);
  }

  bool RunToExit(std::chrono::milliseconds deadline = 5s) {
    return RunUntil([&] { return seen.exit.has_value(); }, deadline);
  }

  boost::asio::io_context ioc;
  TempDir dir{"av-tool-process"};
  Seen seen;
};

Lines SortedLines(const std::string& text) {
  Lines lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
bool GroupGone(pid_t pgid) { return ProcessGone(-pgid); }

// Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp.
struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0, pgrp = 0;
};

std::vector<ProcStat> AllProcesses() {
  std::vector<ProcStat> all;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    ProcStat st;
    st.pid = std::stoi(name);
    st.comm = text.substr(open + 1, close - open - 1);
    std::istringstream rest(text.substr(close + 1));
    rest >> st.state >> st.ppid >> st.pgrp;
    all.push_back(st);
  }
  return all;
}

size_t GroupSize(pid_t pgid) {
  const auto all = AllProcesses();
  return std::count_if(all.begin(), all.end(), [&](const ProcStat& p) { return p.pgrp == pgid; });
}

size_t LiveGroupSize(pid_t pgid) {
  const auto all = AllProcesses();
  return std::count_if(all.begin(), all.end(),
                       [&](const ProcStat& p) { return p.pgrp == pgid && p.state != 'Z'; });
}

// Keepers that are children of this test process, zombies included.
std::vector<pid_t> OurKeepers() {
  std::vector<pid_t> keepers;
  for (const auto& p : AllProcesses()) {
    if (p.ppid == getpid() && p.comm == "av-keeper") keepers.push_back(p.pid);
  }
  return keepers;
}

pid_t ReadPid(const std::string& path) {
  std::ifstream f(path);
  pid_t pid = 0;
  f >> pid;
  return pid;
}

TEST_CASE("output arrives on its own stream, exit codes and signals are reported",
          "[tool_process]") {
  Fixture fx;
  SECTION("exit 0") {
    auto tool = fx.Start(fx.Options({"sh", "-c", "echo out; echo err >&2"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.out == "out\n");
    CHECK(fx.seen.err == "err\n");
    CHECK(fx.seen.exit->exit_code == 0);
    CHECK(fx.seen.exit->signal == 0);
    CHECK_FALSE(fx.seen.exit->cancelled);
    CHECK_FALSE(fx.seen.exit->timed_out);
    CHECK(fx.seen.exit->output_bytes_dropped == 0);
    CHECK(fx.seen.exit->wall > 0ms);
  }
  SECTION("exit 3") {
    auto tool = fx.Start(fx.Options({"sh", "-c", "exit 3"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.exit->exit_code == 3);
    CHECK(fx.seen.exit->signal == 0);
  }
  SECTION("killed by a signal") {
    auto tool = fx.Start(fx.Options({"sh", "-c", "kill -KILL $$"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.exit->exit_code == -1);
    CHECK(fx.seen.exit->signal == SIGKILL);
  }
  CHECK(fx.seen.exit_calls == 1);
}

TEST_CASE("the tool gets exactly the given environment, directory, stdin and fds",
          "[tool_process]") {
  Fixture fx;
  SECTION("environment") {
    auto options = fx.Options({"env"});
    options.env["AUTOVIBE_TASK_ID"] = "t-1 with spaces";
    auto tool = fx.Start(options);
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(SortedLines(fx.seen.out) ==
          Lines{"AUTOVIBE_TASK_ID=t-1 with spaces", "PATH=/usr/bin:/bin"});
  }
  SECTION("working directory") {
    auto tool = fx.Start(fx.Options({"pwd", "-P"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.out == fs::canonical(fx.dir.path()).string() + "\n");
  }
  SECTION("stdin is /dev/null") {
    auto tool = fx.Start(fx.Options({"cat"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit(2s));
    CHECK(fx.seen.out.empty());
    CHECK(fx.seen.exit->exit_code == 0);
  }
  SECTION("only stdin, stdout and stderr are open") {
    auto tool = fx.Start(fx.Options({"ls", "/proc/self/fd"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(SortedLines(fx.seen.out) == Lines{"0", "1", "2", "3"});  // 3: the directory ls reads
  }
  SECTION("signals are neither ignored nor blocked, whatever the agent does") {
    struct sigaction ignore {
    }, previous_action{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &previous_action);
    sigset_t usr1, previous_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &previous_mask);
    auto tool = fx.Start(fx.Options({"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"}));
    sigaction(SIGPIPE, &previous_action, nullptr);
    pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(SortedLines(fx.seen.out) ==
          Lines{"SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"});
  }
}

TEST_CASE("cancel stops the whole group within the grace period", "[tool_process]") {
  Fixture fx;
  SECTION("a tool that honours SIGTERM") {
    auto tool = fx.Start(fx.Options({"sh", "-c", "sleep 1000 & sleep 1000; wait"}));
    REQUIRE(tool);
    const pid_t pgid = (*tool)->pid();
    REQUIRE(fx.RunUntil([&] { return GroupSize(pgid) >= 3; }));
    const auto cancelled_at = std::chrono::steady_clock::now();
    (*tool)->Cancel();
    (*tool)->Cancel();
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.exited_at - cancelled_at < 1500ms);  // grace is 2 s: SIGTERM did it
    CHECK(fx.seen.exit->cancelled);
    CHECK_FALSE(fx.seen.exit->timed_out);
    CHECK(fx.seen.exit->signal == SIGTERM);
    CHECK(GroupGone(pgid));
  }
  SECTION("a tool that ignores SIGTERM is killed after the grace period") {
    auto options = fx.Options({"sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000"});
    options.grace = 300ms;
    auto tool = fx.Start(options);
    REQUIRE(tool);
    const pid_t pgid = (*tool)->pid();
    REQUIRE(fx.RunUntil([&] { return GroupSize(pgid) >= 3; }));  // the trap is set
    const auto cancelled_at = std::chrono::steady_clock::now();
    (*tool)->Cancel();
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.exited_at - cancelled_at >= 300ms);
    CHECK(fx.seen.exited_at - cancelled_at < 2s);
    CHECK(fx.seen.exit->cancelled);
    CHECK(fx.seen.exit->signal == SIGKILL);
    CHECK(GroupGone(pgid));
  }
}

TEST_CASE("a tool that runs past its timeout is stopped and says so", "[tool_process]") {
  Fixture fx;
  auto options = fx.Options({"sleep", "1000"});
  options.timeout = 200ms;
  options.grace = 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto tool = fx.Start(options);
  REQUIRE(tool);
  REQUIRE(fx.RunToExit());
  CHECK(fx.seen.exited_at - started >= 200ms);
  CHECK(fx.seen.exited_at - started < 1500ms);
  CHECK(fx.seen.exit->timed_out);
  CHECK_FALSE(fx.seen.exit->cancelled);
  CHECK(fx.seen.exit->signal == SIGTERM);
  CHECK(fx.seen.exit->wall >= 200ms);
}

long RssKiB() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_CASE("output past the cap is read and dropped, a flood starves nothing", "[tool_process]") {
  Fixture fx;
  SECTION("the cap is exact") {
    auto options = fx.Options({"printf", "0123456789"});
    options.max_output_bytes = 4;
    std::string dropped;
    options.on_dropped_output = [&](OutputStream, std::string_view d) { dropped += d; };
    auto tool = fx.Start(options);
    REQUIRE(tool);
    REQUIRE(fx.RunToExit());
    CHECK(fx.seen.out == "0123");
    CHECK(fx.seen.exit->output_bytes_dropped == 6);
    CHECK(dropped == "456789");  // a transcript parser still sees the end
  }
  SECTION("yes for a second") {
    auto options = fx.Options({"yes"});
    options.max_output_bytes = 1 << 20;
    options.timeout = 1s;
    options.grace = 300ms;
    size_t ticks = 0;
    boost::asio::steady_timer ticker(fx.ioc);
    std::function<void()> tick = [&] {
      ticker.expires_after(10ms);
      ticker.async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        ++ticks;
        tick();
      });
    };
    tick();
    const long rss_before = RssKiB();
    auto tool = fx.Start(options);
    REQUIRE(tool);
    REQUIRE(fx.RunToExit(5s));
    ticker.cancel();
    CHECK(fx.seen.out.size() == (1u << 20));
    CHECK(fx.seen.exit->output_bytes_dropped > (1u << 20));  // yes writes far more than 1 MiB/s
    CHECK(fx.seen.exit->timed_out);
    CHECK(ticks >= 40);  // ~100 expected in a second; a starved loop gets a handful
    CHECK(RssKiB() - rss_before < 16 * 1024);  // 1 MiB kept by this test, nothing buffered
  }
}

TEST_CASE("processes the tool leaves behind are killed before on_exit", "[tool_process]") {
  Fixture fx;
  SECTION("a background child in the group") {
    auto tool = fx.Start(fx.Options({"sh", "-c", "sleep 1000 & echo $! > bg.pid; echo started"}));
    REQUIRE(tool);
    const pid_t pgid = (*tool)->pid();
    REQUIRE(fx.RunToExit(3s));
    CHECK(fx.seen.out == "started\n");
    CHECK(fx.seen.exit->exit_code == 0);
    CHECK(fx.seen.exit->wall < 900ms);  // did not wait for the sleep, nor for its pipe
    const pid_t bg = ReadPid(fx.dir / "bg.pid");
    REQUIRE(bg > 0);
    CHECK(ProcessGone(bg));
    CHECK(GroupGone(pgid));
  }
  SECTION("a child that escaped the group with setsid") {
    auto tool = fx.Start(fx.Options({"sh", "-c",
                                     "setsid sh -c 'echo $$ > esc.pid; exec sleep 1000' & "
                                     "while [ ! -s esc.pid ]; do sleep 0.01; done; echo started"}));
    REQUIRE(tool);
    REQUIRE(fx.RunToExit(3s));
    CHECK(fx.seen.out == "started\n");
    const pid_t escaped = ReadPid(fx.dir / "esc.pid");
    REQUIRE(escaped > 0);
    CHECK(ProcessGone(escaped));
  }
}

TEST_CASE("destroying the ToolProcess kills the group and calls nothing", "[tool_process]") {
  Fixture fx;
  auto tool = fx.Start(fx.Options({"sh", "-c", "sleep 1000 & sleep 1000; echo never"}));
  REQUIRE(tool);
  const pid_t pgid = (*tool)->pid();
  REQUIRE(fx.RunUntil([&] { return GroupSize(pgid) >= 3; }));
  tool->reset();
  CHECK(fx.RunUntil([&] { return GroupGone(pgid) && OurKeepers().empty(); }, 3s));
  fx.RunUntil([] { return false; }, 50ms);  // any stray handler would run now
  CHECK_FALSE(fx.seen.exit.has_value());
  CHECK(fx.seen.out.empty());
}

TEST_CASE("kill -9 of the supervising process leaves no tool process", "[tool_process]") {
  // The orphaned keeper comes to this process, which can then check that it finished.
  REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t supervisor = fork();
  REQUIRE(supervisor >= 0);
  if (supervisor == 0) {
    // Stands in for the agent: only this runs in the forked copy of the test process.
    close(pipe_fds[0]);
    boost::asio::io_context ioc;
    ToolProcessOptions options;
    options.argv = {"sh", "-c", "setsid sleep 1000 & sleep 1000 & sleep 1000"};
    options.env = {{"PATH", "/usr/bin:/bin"}};
    options.cwd = "/";
    auto tool = StartToolProcess(ioc, options, nullptr, nullptr);
    const pid_t pgid = tool ? (*tool)->pid() : -1;
    (void)!write(pipe_fds[1], &pgid, sizeof pgid);
    ioc.run();
    _exit(0);
  }
  close(pipe_fds[1]);
  pid_t pgid = -1;
  const ssize_t n = read(pipe_fds[0], &pgid, sizeof pgid);
  close(pipe_fds[0]);
  REQUIRE(n == static_cast<ssize_t>(sizeof pgid));
  REQUIRE(pgid > 0);
  // Everything the tool started, the sleep that left its group included.
  std::vector<pid_t> sleeps;
  CHECK(WaitUntil(
      [&] {
        sleeps.clear();
        for (const auto& p : AllProcesses()) {
          if (p.comm == "sleep" && (p.pgrp == pgid || p.ppid == pgid)) sleeps.push_back(p.pid);
        }
        return sleeps.size() == 3;
      },
      3s));
  kill(supervisor, SIGKILL);
  REQUIRE(waitpid(supervisor, nullptr, 0) == supervisor);
  CHECK(WaitUntil(
      [&] { return GroupGone(pgid) && std::all_of(sleeps.begin(), sleeps.end(), ProcessGone); },
      3s));
  // The keeper swept up and exited by itself.
  CHECK(WaitUntil(
      [] {
        for (pid_t keeper : OurKeepers()) waitpid(keeper, nullptr, WNOHANG);
        return OurKeepers().empty();
      },
      3s));
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_CASE("a keeper killed from outside still takes the tool's group along", "[tool_process]") {
  Fixture fx;
  auto tool = fx.Start(fx.Options({"sh", "-c", "sleep 1000 & sleep 1000"}));
  REQUIRE(tool);
  const pid_t pgid = (*tool)->pid();
  REQUIRE(fx.RunUntil([&] { return GroupSize(pgid) >= 3; }));
  const auto keepers = OurKeepers();
  REQUIRE(keepers.size() == 1);
  kill(keepers[0], SIGKILL);  // as the OOM killer would
  REQUIRE(fx.RunToExit());
  CHECK(fx.seen.exit->exit_code == -1);
  CHECK(fx.seen.exit->signal == SIGKILL);
  // Without their keeper the dead are reaped by init, whenever it gets to it: count the living.
  CHECK(WaitUntil([&] { return LiveGroupSize(pgid) == 0; }, 2s));
}

TEST_CASE("a tool that cannot start is a clear error", "[tool_process]") {
  Fixture fx;
  SECTION("binary not on PATH") {
    auto tool = fx.Start(fx.Options({"no-such-tool-av", "--help"}));
    REQUIRE_FALSE(tool);
    CHECK(tool.error().code == ErrorCode::kNotFound);
    CHECK_THAT(tool.error().message,
               Catch::Contains("tool binary no-such-tool-av not found on PATH"));
  }
  SECTION("no PATH in the environment") {
    auto options = fx.Options({"sh"});
    options.env.clear();
    auto tool = fx.Start(options);
    REQUIRE_FALSE(tool);
    CHECK(tool.error().code == ErrorCode::kNotFound);
  }
  SECTION("working directory missing") {
    auto options = fx.Options({"sh"});
    options.cwd = fx.dir / "gone";
    auto tool = fx.Start(options);
    REQUIRE_FALSE(tool);
    CHECK(tool.error().code == ErrorCode::kNotFound);
    CHECK_THAT(tool.error().message, Catch::Contains("working directory"));
  }
  SECTION("a file the kernel cannot execute") {
    std::ofstream(fx.dir / "garbage") << "not a program\n";
    REQUIRE(chmod((fx.dir / "garbage").c_str(), 0755) == 0);
    auto tool = fx.Start(fx.Options({"./garbage"}));
    REQUIRE_FALSE(tool);
    CHECK(tool.error().code == ErrorCode::kBadTask);
    CHECK_THAT(tool.error().message, Catch::Contains("exec failed"));
    CHECK(OurKeepers().empty());  // the failed start left no zombie behind
  }
  SECTION("an empty command") {
    auto tool = fx.Start(fx.Options({}));
    REQUIRE_FALSE(tool);
    CHECK(tool.error().code == ErrorCode::kBadTask);
  }
}

TEST_CASE("resource limits are applied to the tool", "[tool_process]") {
  Fixture fx;
  auto options = fx.Options({"sh", "-c", "ulimit -n; ulimit -c; ulimit -t"});
  options.limits.open_files = 64;
  options.limits.cpu_seconds = 30;
  auto tool = fx.Start(options);
  REQUIRE(tool);
  REQUIRE(fx.RunToExit());
  CHECK(fx.seen.out == "64\n0\n30\n");
}

}  // namespace
}  // namespace autovibe
