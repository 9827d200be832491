// The task manager boxing its tasks (task_user = "per-task"): a task's workspace is handed to
// its task user off the owner thread, which meanwhile goes on running the other tasks and
// answering. Real boxed tools; needs root and bubblewrap.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "tests/unit/task_manager_fixture.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using testing::Fixture;
using testing::Shell;

bool CanBox() {
  if (geteuid() == 0 && access("/usr/bin/bwrap", X_OK) == 0) return true;
  WARN("needs root and bubblewrap");
  return false;
}

// `files` empty files, 1000 to a directory, all root's (as a restored checkpoint leaves them).
void MakeFiles(const std::string& dir, int files) {
  for (int d = 0; d * 1000 < files; ++d) {
    const std::string sub = dir + "/d" + std::to_string(d);
    std::filesystem::create_directories(sub);
    for (int f = 0; f < 1000 && d * 1000 + f < files; ++f) {
      const int fd = open((sub + "/f" + std::to_string(f)).c_str(), O_CREAT | O_WRONLY, 0644);
      REQUIRE(fd >= 0);
      close(fd);
    }
  }
}

// A RunTask's answer, once it comes.
struct Answer {
  std::shared_ptr<std::optional<Result<void>>> value =
      std::make_shared<std::optional<Result<void>>>();
  TaskManager::RunDone Take() {
    return [v = value](Result<void> r) { *v = std::move(r); };
  }
  bool came() const { return value->has_value(); }
  const Result<void>& operator*() const { return **value; }
};

}  // namespace

TEST_CASE("while a boxed task's huge workspace is handed over, another task starts and ends",
          "[box]") {
  if (!CanBox()) return;
  Fixture fx(2, 16 << 20, 61300);
  MakeFiles(fx.dir / "workspaces/t-big", 100'000);

  Answer big;
  fx.tasks->Run(Shell("t-big", {"stat", "-c", "%u", "d99/f999"}), big.Take());
  // Asked to run, the big task holds its slot, but its tool waits for its files...
  CHECK_FALSE(big.came());
  CHECK(fx.tasks->Running("t-big"));
  CHECK(fx.tasks->RunningTaskIds().empty());
  // ...while the agent goes on: another task starts, runs and ends meanwhile.
  REQUIRE(fx.Run(Shell("t-small", {"echo", "small"})));
  CHECK(fx.WaitFinished("t-small").outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(fx.Output("t-small", v1::LOG_STREAM_STDOUT) == "small\n");
  CHECK(fx.StartedCount("t-big") == 0);

  REQUIRE(fx.RunUntil([&] { return big.came(); }, 60s));
  REQUIRE(*big);
  CHECK(fx.WaitFinished("t-big").outcome() == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(fx.Output("t-big", v1::LOG_STREAM_STDOUT) == "61300\n");  // the last file is its user's
}

TEST_CASE("a boxed task being prepared answers once, and stops as asked once its tool runs",
          "[box]") {
  if (!CanBox()) return;
  Fixture fx(2, 16 << 20, 61310);
  Answer first;
  fx.tasks->Run(Shell("t-p", {"sh", "-c", "echo one; exec sleep 1000"}), first.Take());
  CHECK_FALSE(first.came());

  SECTION("the same attempt asked again: one start, the same answer for both") {
    Answer again;
    fx.tasks->Run(Shell("t-p", {"sh", "-c", "echo one; exec sleep 1000"}), again.Take());
    REQUIRE(fx.RunUntil([&] { return first.came() && again.came(); }));
    CHECK(*first);
    CHECK(*again);
    REQUIRE(fx.RunUntil([&] { return fx.Output("t-p", v1::LOG_STREAM_STDOUT) == "one\n"; }));
    CHECK(fx.StartedCount("t-p") == 1);
    fx.tasks->Cancel("t-p", "done");
    fx.WaitFinished("t-p");
  }
  SECTION("cancelled meanwhile: it is stopped as soon as its tool runs") {
    fx.tasks->Cancel("t-p", "user asked");
    const v1::TaskFinished f = fx.WaitFinished("t-p");
    CHECK(*first);
    CHECK(f.outcome() == v1::TASK_OUTCOME_CANCELLED);
    CHECK(f.reason() == "cancelled: user asked");
  }
  SECTION("paused meanwhile, then cancelled: the first stop stands") {
    fx.tasks->Pause("t-p", "restoring a checkpoint");
    fx.tasks->Cancel("t-p", "user asked");
    const v1::TaskFinished f = fx.WaitFinished("t-p");
    CHECK(f.outcome() == v1::TASK_OUTCOME_PAUSED);
    CHECK(f.reason() == "paused: restoring a checkpoint");
  }
  SECTION("a newer attempt: the older one never starts, the newer runs") {
    Answer newer;
    fx.tasks->Run(Shell("t-p", {"echo", "two"}, 2), newer.Take());
    REQUIRE(fx.RunUntil([&] { return first.came() && newer.came(); }));
    REQUIRE_FALSE(*first);
    CHECK((*first).error().code == ErrorCode::kUnavailable);
    CHECK((*first).error().message == "superseded by attempt 2");
    CHECK(*newer);
    CHECK(fx.WaitFinished("t-p", 2).outcome() == v1::TASK_OUTCOME_SUCCEEDED);
    CHECK(fx.StartedCount("t-p") == 1);
    CHECK_FALSE(fx.FinishedOf("t-p", 1).has_value());
  }
  SECTION("the agent stops meanwhile: it never starts") {
    bool stopped = false;
    fx.tasks->Stop("the agent is stopping", [&] { stopped = true; });
    CHECK_FALSE(stopped);  // waits for the task being prepared
    REQUIRE(fx.RunUntil([&] { return first.came() && stopped; }));
    REQUIRE_FALSE(*first);
    CHECK((*first).error().code == ErrorCode::kUnavailable);
    CHECK(fx.StartedCount("t-p") == 0);
  }
}

}  // namespace autovibe
