#include "controller/scheduler/scheduler.h"

#include <catch2/catch.hpp>

using namespace autovibe;

namespace {

SchedulerTask Task(const std::string& id, const std::string& project, int64_t seq, int32_t prio = 0,
                   const std::string& tool = "shell") {
  return {id, project, seq, prio, tool, {}};
}

std::vector<std::string> Ids(const std::vector<Placement>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.task_id);
  return out;
}

}  // namespace

TEST_CASE("higher priority first, then first come", "[scheduler]") {
  Scheduler s;
  s.UpsertMachine({"m1", {"shell"}, {}, 1, true});
  s.Enqueue(Task("a", "p", 1, 0));
  s.Enqueue(Task("b", "p", 2, 5));
  s.Enqueue(Task("c", "p", 3, 5));
  CHECK(Ids(s.Place(10)) == std::vector<std::string>{"b"});
  s.Release("m1", "b");
  CHECK(Ids(s.Place(10)) == std::vector<std::string>{"c"});
  s.Release("m1", "c");
  CHECK(Ids(s.Place(10)) == std::vector<std::string>{"a"});
  CHECK(s.queued() == 0);
}

TEST_CASE("projects of equal priority take turns", "[scheduler]") {
  Scheduler s;
  s.UpsertMachine({"m1", {"shell"}, {}, 4, true});
  for (int i = 0; i < 10; ++i) s.Enqueue(Task("big" + std::to_string(i), "big", i));
  s.Enqueue(Task("small0", "small", 100));
  s.Enqueue(Task("small1", "small", 101));
  auto placed = Ids(s.Place(4));
  REQUIRE(placed.size() == 4);
  // Although "big" submitted ten tasks first, "small" gets every other slot.
  CHECK(std::count(placed.begin(), placed.end(), "small0") == 1);
  CHECK(std::count(placed.begin(), placed.end(), "small1") == 1);
}

TEST_CASE("a task runs only where its tool and labels are", "[scheduler]") {
  Scheduler s;
  s.UpsertMachine({"gpu", {"shell", "claude-code"}, {{"gpu", "yes"}}, 1, true});
  s.UpsertMachine({"plain", {"shell"}, {}, 1, true});
  SchedulerTask claude = Task("c", "p", 1, 9, "claude-code");
  SchedulerTask labelled = Task("l", "p", 2, 0);
  labelled.labels = {{"gpu", "yes"}};
  s.Enqueue(claude);
  s.Enqueue(labelled);
  s.Enqueue(Task("s", "p", 3));
  auto placed = s.Place(10);
  REQUIRE(placed.size() == 2);
  CHECK(placed[0].task_id == "c");
  CHECK(placed[0].machine_id == "gpu");
  // The labelled task waits for the gpu machine; the plain one goes past it.
  CHECK(placed[1].task_id == "s");
  CHECK(placed[1].machine_id == "plain");
  CHECK(s.IsQueued("l"));
  CHECK_FALSE(s.AnyMachineFits("codex", {}));
  CHECK(s.AnyMachineFits("shell", {{"gpu", "yes"}}));
}

TEST_CASE("slots, draining machines and dequeued tasks", "[scheduler]") {
  Scheduler s;
  s.UpsertMachine({"m1", {"shell"}, {}, 2, true});
  for (int i = 0; i < 5; ++i) s.Enqueue(Task("t" + std::to_string(i), "p", i));
  s.Dequeue("t0");
  auto first = s.Place(10);
  CHECK(Ids(first) == std::vector<std::string>{"t1", "t2"});
  CHECK(s.Full("m1"));
  s.UpsertMachine({"m1", {"shell"}, {}, 2, false});  // draining
  s.Release("m1", "t1");
  CHECK(s.Place(10).empty());
  s.UpsertMachine({"m1", {"shell"}, {}, 2, true});
  CHECK(Ids(s.Place(10)) == std::vector<std::string>{"t3"});
  s.RemoveMachine("m1");
  CHECK(s.Place(10).empty());
  CHECK(s.queued() == 1);
}

TEST_CASE("a long run of tasks no machine takes does not hold back the project's others",
          "[scheduler]") {
  Scheduler s;
  s.UpsertMachine({"plain", {"shell"}, {}, 1, true});
  for (int i = 0; i < 5000; ++i) {
    SchedulerTask gpu = Task("gpu" + std::to_string(i), "p", i);
    gpu.labels = {{"gpu", "yes"}};
    s.Enqueue(gpu);
  }
  s.Enqueue(Task("plain-task", "p", 5000));
  CHECK(Ids(s.Place(10)) == std::vector<std::string>{"plain-task"});
  CHECK(s.queued() == 5000);
}
