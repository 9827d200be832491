// The agent's task manager running real shell tools; the events it sends are captured by a Bus
// double behind the real outbox (task_manager_fixture.h).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/unit/task_manager_fixture.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using testing::Fixture;
using testing::kAgentKey;
using testing::Shell;

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

TEST_CASE("a shell task reports started, its output per stream, then how it ended") {
  Fixture fx;
  REQUIRE(fx.Run(Shell("t-1", {"sh", "-c", "echo out; echo err >&2; exit 3"})));
  CHECK(fx.tasks->RunningTaskIds() == std::vector<std::string>{"t-1"});
  const v1::TaskFinished f = fx.WaitFinished("t-1");
  CHECK(f.outcome() == v1::TASK_OUTCOME_FAILED);
  CHECK(f.exit_code() == 3);
  CHECK(f.signal() == 0);
  CHECK(f.reason() == "exit code 3");
  CHECK(f.attempt() == 1);
  CHECK(f.output_bytes_dropped() == 0);
  CHECK(fx.tasks->RunningTaskIds().empty());

  const auto events = fx.EventsOf("t-1");
  REQUIRE(events.size() >= 4);
  CHECK(events.front().has_task_started());
  CHECK(events.front().task_started().pid() > 0);
  CHECK(events.back().has_task_finished());
  uint64_t seq = 0;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    REQUIRE(events[i].has_task_log());
    CHECK(events[i].task_log().seq() == ++seq);  // counted from 1, no gaps
    CHECK(events[i].task_log().attempt() == 1);
  }
  CHECK(fx.Output("t-1", v1::LOG_STREAM_STDOUT) == "out\n");
  CHECK(fx.Output("t-1", v1::LOG_STREAM_STDERR) == "err\n");
  CHECK(fx.Output("t-1", v1::LOG_STREAM_AGENT).empty());
}

TEST_CASE("a task's tool sees its workspace and a clean environment") {
  Fixture fx;
  ::setenv("AUTOVIBE_TEST_AGENT_ONLY", "leaked", 1);
  v1::RunTask t =
      Shell("t-env", {"sh", "-c",
                      "pwd; echo \"$AUTOVIBE_TASK_ID|$AUTOVIBE_PROJECT|$FOO|$LANG|$TERM|$HOME\"; "
                      "echo \"$ANTHROPIC_BASE_URL|$ANTHROPIC_API_KEY|$OPENAI_BASE_URL|"
                      "$OPENAI_API_KEY|$AUTOVIBE_TEST_AGENT_ONLY\""});
  (*t.mutable_env())["FOO"] = "bar";
  (*t.mutable_env())["AUTOVIBE_TASK_ID"] = "not-mine";  // the agent's value wins
  REQUIRE(fx.Run(t));
  REQUIRE(fx.meter.tokens.count("t-env") == 1);
  const std::string token = fx.meter.tokens["t-env"];
  CHECK(token.size() >= 32);
  // Unboxed (no TaskBoxes): a trusted task, whose token is bound to nobody.
  CHECK_FALSE(fx.meter.bindings["t-env"].uid);
  CHECK_FALSE(fx.meter.bindings["t-env"].own_listener);
  CHECK(fx.WaitFinished("t-env").outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(fx.meter.tokens.count("t-env") == 0);  // refused once the tool is gone
  ::unsetenv("AUTOVIBE_TEST_AGENT_ONLY");
  const std::string workspace = std::filesystem::canonical(fx.dir / "workspaces/t-env");
  // The tool reaches the providers only through the metering proxy, with its own token: the
  // agent's real keys never reach it, and nothing else is inherited.
  CHECK(fx.Output("t-env", v1::LOG_STREAM_STDOUT) ==
        workspace + "\nt-env|demo|bar|C.UTF-8|dumb|" + fx.dir / "home" + "\nhttp://127.0.0.1:9|" +
            token + "|http://127.0.0.1:9/v1|" + token + "|\n");
  CHECK(fx.Output("t-env", v1::LOG_STREAM_STDOUT).find(kAgentKey) == std::string::npos);
  struct stat st {};
  REQUIRE(::stat(workspace.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("cancel stops the tool's whole group and reports CANCELLED with the reason") {
  Fixture fx;
  REQUIRE(fx.Run(Shell("t-c", {"sh", "-c", "sleep 1000 & echo $!; wait"})));
  REQUIRE(fx.RunUntil([&] { return !fx.Output("t-c", v1::LOG_STREAM_STDOUT).empty(); }));
  const pid_t sleeper = std::atoi(fx.Output("t-c", v1::LOG_STREAM_STDOUT).c_str());
  REQUIRE(sleeper > 0);
  CHECK_FALSE(ProcessGone(sleeper));
  fx.tasks->Cancel("t-c", "user asked");
  fx.tasks->Cancel("t-c", "again");        // idempotent
  fx.tasks->Cancel("t-nope", "whatever");  // not here: nothing to do
  const v1::TaskFinished f = fx.WaitFinished("t-c");
  CHECK(f.outcome() == v1::TASK_OUTCOME_CANCELLED);
  CHECK(f.reason() == "cancelled: user asked");
  CHECK(fx.Output("t-c", v1::LOG_STREAM_AGENT) == "cancelled: user asked");
  CHECK(fx.RunUntil([&] { return ProcessGone(sleeper); }, 2s));
  CHECK(fx.tasks->RunningTaskIds().empty());
}

TEST_CASE("a task over its timeout is stopped and reported TIMED_OUT") {
  Fixture fx;
  v1::RunTask t = Shell("t-slow", {"sleep", "1000"});
  t.set_timeout_ms(200);
  REQUIRE(fx.Run(t));
  const v1::TaskFinished f = fx.WaitFinished("t-slow");
  CHECK(f.outcome() == v1::TASK_OUTCOME_TIMED_OUT);
  CHECK(f.reason() == "timed out after 200ms");
  CHECK(f.signal() == SIGTERM);
  CHECK(f.duration_ms() >= 200);
  CHECK(fx.Output("t-slow", v1::LOG_STREAM_AGENT) == "timed out after 200ms");
}

TEST_CASE("output is sent in bounded chunks and cut at the agent's cap with a note") {
  Fixture fx(1, 40000);
  REQUIRE(fx.Run(Shell("t-big", {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"})));
  const v1::TaskFinished f = fx.WaitFinished("t-big");
  CHECK(f.outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(f.output_bytes_dropped() == 60000);
  CHECK(fx.Output("t-big", v1::LOG_STREAM_STDOUT) == std::string(40000, 'x'));
  CHECK(fx.Output("t-big", v1::LOG_STREAM_AGENT) ==
        "output truncated: 60000 bytes dropped (over the agent's max_output_bytes)");
  for (const auto& e : fx.EventsOf("t-big")) {
    if (e.has_task_log()) CHECK(e.task_log().data().size() <= (32u << 10));
  }
}

TEST_CASE("RunTask is idempotent, respects slots and draining, and a newer attempt wins") {
  Fixture fx;
  REQUIRE(fx.Run(Shell("t-1", {"sleep", "1000"})));
  CHECK(fx.Run(Shell("t-1", {"sleep", "1000"})));  // the same attempt: already runs
  auto busy = fx.Run(Shell("t-2", {"true"}));
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == ErrorCode::kBusy);
  auto stale = fx.Run(Shell("t-1", {"true"}, 0));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == ErrorCode::kUnavailable);

  // Attempt 2 replaces attempt 1 in the same slot; attempt 1 is reported cancelled.
  REQUIRE(fx.Run(Shell("t-1", {"sh", "-c", "echo second"}, 2)));
  const v1::TaskFinished first = fx.WaitFinished("t-1", 1);
  CHECK(first.outcome() == v1::TASK_OUTCOME_CANCELLED);
  CHECK(first.reason() == "cancelled: superseded by attempt 2");
  CHECK(fx.WaitFinished("t-1", 2).outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(fx.StartedCount("t-1") == 2);
  // A repeat of a finished attempt (its reply was lost) does not run it again.
  CHECK(fx.Run(Shell("t-1", {"sh", "-c", "echo second"}, 2)));
  CHECK(fx.tasks->RunningTaskIds().empty());
  CHECK(fx.StartedCount("t-1") == 2);

  fx.tasks->SetDraining(true);
  auto draining = fx.Run(Shell("t-3", {"true"}));
  REQUIRE_FALSE(draining);
  CHECK(draining.error().code == ErrorCode::kDraining);
}

TEST_CASE("tasks that can never run are refused as bad_task and change nothing") {
  Fixture fx;
  const std::vector<v1::RunTask> bad = {
      Shell("../etc", {"true"}),
      Shell("..", {"true"}),
      Shell("", {"true"}),
      Shell("a/b", {"true"}),
      Shell(std::string(65, 'a'), {"true"}),
      Shell("t-nocmd", {}),
      Shell("t-missing", {"no-such-binary-for-autovibe"}),
      [] {
        v1::RunTask t = Shell("t-vim", {"true"});
        t.set_tool("vim");
        return t;
      }(),
  };
  for (const auto& t : bad) {
    INFO(t.task_id() << " " << t.tool());
    auto r = fx.Run(t);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadTask);
    CHECK_FALSE(r.error().message.empty());
  }
  CHECK(fx.Run(Shell("t-vim", {"true"})));  // the slot is still free
  fx.WaitFinished("t-vim");
  CHECK(fx.bus.Events().size() == fx.EventsOf("t-vim").size());  // nothing about the others
}

TEST_CASE("stopping cancels every task, then kills what ignores SIGTERM") {
  Fixture fx(2);
  REQUIRE(fx.Run(Shell("t-a", {"sleep", "1000"})));
  v1::RunTask stubborn = Shell("t-b", {"sh", "-c", "trap '' TERM; echo up; while :; do :; done"});
  stubborn.set_grace_ms(60000);
  REQUIRE(fx.Run(stubborn));
  REQUIRE(fx.RunUntil([&] { return !fx.Output("t-b", v1::LOG_STREAM_STDOUT).empty(); }));
  bool stopped = false;
  fx.tasks->Stop("the agent is stopping", [&] { stopped = true; });
  auto refused = fx.Run(Shell("t-c", {"true"}));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnavailable);
  CHECK(fx.WaitFinished("t-a").reason() == "cancelled: the agent is stopping");
  CHECK_FALSE(stopped);
  fx.tasks->KillAll();
  const v1::TaskFinished b = fx.WaitFinished("t-b");
  CHECK(b.outcome() == v1::TASK_OUTCOME_CANCELLED);
  CHECK(b.signal() == SIGKILL);
  CHECK(fx.RunUntil([&] { return stopped; }));
}

TEST_CASE("pause stops the tool, keeps the workspace and reports PAUSED") {
  Fixture fx;
  REQUIRE(fx.Run(Shell("t-pause", {"sh", "-c", "echo work > kept.txt; exec sleep 30"})));
  REQUIRE(
      fx.RunUntil([&] { return std::filesystem::exists(fx.dir / "workspaces/t-pause/kept.txt"); }));
  fx.tasks->Pause("t-pause", "budget usd (total) of project demo is exhausted");
  const v1::TaskFinished f = fx.WaitFinished("t-pause");
  CHECK(f.outcome() == v1::TASK_OUTCOME_PAUSED);
  CHECK(f.reason() == "paused: budget usd (total) of project demo is exhausted");
  CHECK(std::filesystem::exists(fx.dir / "workspaces/t-pause/kept.txt"));
  // The resumed run is a new attempt in the same workspace.
  v1::RunTask again = Shell("t-pause", {"cat", "kept.txt"}, 2);
  again.set_resume(true);
  REQUIRE(fx.Run(again));
  CHECK(fx.WaitFinished("t-pause", 2).outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(fx.Output("t-pause", v1::LOG_STREAM_STDOUT).find("work") != std::string::npos);
}

TEST_CASE("a tool that exits by itself while a delayed stop is pending ends as that stop") {
  Fixture fx;
  // The tool shows the refusal and exits with an error, as Claude Code does after a 429.
  REQUIRE(fx.Run(Shell(
      "t-quits",
      {"sh", "-c", "touch up; while [ ! -e go ]; do sleep 0.01; done; echo refused >&2; exit 1"})));
  const std::filesystem::path workspace = fx.dir / "workspaces/t-quits";
  REQUIRE(fx.RunUntil([&] { return std::filesystem::exists(workspace / "up"); }));
  fx.tasks->Pause("t-quits", "budget usd (total) of project demo is exhausted", 30s);
  const auto asked = std::chrono::steady_clock::now();
  std::ofstream(workspace / "go") << "";
  const v1::TaskFinished f = fx.WaitFinished("t-quits");
  CHECK(std::chrono::steady_clock::now() - asked < 10s);  // not the 30 s of the delay
  CHECK(f.outcome() == v1::TASK_OUTCOME_PAUSED);
  CHECK(f.reason() == "paused: budget usd (total) of project demo is exhausted");
  CHECK(f.exit_code() == 1);
}

TEST_CASE("a refused call restarts a delayed stop once, so the tool has its moment to show it") {
  Fixture fx;
  REQUIRE(fx.Run(Shell(
      "t-late",
      {"sh", "-c", "touch up; while [ ! -e go ]; do sleep 0.01; done; echo refused >&2; exit 1"})));
  const std::filesystem::path workspace = fx.dir / "workspaces/t-late";
  REQUIRE(fx.RunUntil([&] { return std::filesystem::exists(workspace / "up"); }));
  // The controller saw the budget used up and asked for a stop 300 ms on; the tool's next call
  // is refused only now, and the meter asks for its own delay from here.
  fx.tasks->Pause("t-late", "budget api_calls (total) of project demo is exhausted", 300ms);
  fx.tasks->StopAfterRefusal("t-late", "budget api_calls refused the call", true, 30s);
  // A second refusal restarts nothing more (a tool retrying cannot put its stop off for ever).
  fx.tasks->StopAfterRefusal("t-late", "budget api_calls refused the call", true, 60s);
  // Well past the first 300 ms the tool still runs.
  CHECK_FALSE(fx.RunUntil([&] { return fx.FinishedOf("t-late").has_value(); }, 1500ms));
  std::ofstream(workspace / "go") << "";
  const v1::TaskFinished f = fx.WaitFinished("t-late");
  CHECK(f.outcome() == v1::TASK_OUTCOME_PAUSED);
  CHECK(f.reason() == "paused: budget api_calls (total) of project demo is exhausted");
  CHECK(f.exit_code() == 1);
}

TEST_CASE("a refused call with no stop on its way stops the tool after the delay") {
  Fixture fx;
  REQUIRE(fx.Run(Shell("t-refused", {"sleep", "30"})));
  fx.tasks->StopAfterRefusal("t-refused", "budget tokens refused the call", false, 200ms);
  const v1::TaskFinished f = fx.WaitFinished("t-refused");
  CHECK(f.outcome() == v1::TASK_OUTCOME_CANCELLED);
  CHECK(f.reason() == "cancelled: budget tokens refused the call");
}

}  // namespace autovibe
