#include "controller/machines/autoscaler.h"

#include <catch2/catch.hpp>

using namespace autovibe;

namespace {

PoolConfig Pool(std::string name, uint32_t min, uint32_t max,
                std::map<std::string, std::string> labels = {}) {
  PoolConfig p;
  p.name = std::move(name);
  p.backend = "local";
  p.min = min;
  p.max = max;
  p.labels = std::move(labels);
  p.idle_timeout = std::chrono::seconds(60);
  return p;
}

std::vector<WaitingTask> Tasks(int n, std::string project = "demo",
                               std::map<std::string, std::string> labels = {}) {
  std::vector<WaitingTask> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"t-" + std::to_string(i), project, "shell", labels});
  }
  return out;
}

auto Anyone = [](const std::string&) { return true; };

}  // namespace

TEST_CASE("waiting tasks grow a pool up to its max") {
  PoolConfig p = Pool("local", 0, 3);
  auto d = DecideScaling({{&p, {}, false}}, Tasks(5), Anyone, 0);
  CHECK(d.spawn["local"] == 3);
  CHECK(d.retire.empty());
  // Machines already on their way count: two starting, one more needed for three tasks.
  PoolView v{&p, {{"m-1", true}, {"m-2", true}}, false};
  d = DecideScaling({v}, Tasks(3), Anyone, 0);
  CHECK(d.spawn["local"] == 1);
  d = DecideScaling({v}, Tasks(2), Anyone, 0);
  CHECK(d.spawn.empty());
}

TEST_CASE("machines with several slots serve several tasks each") {
  PoolConfig p = Pool("local", 0, 10);
  p.task_slots = 4;
  auto d = DecideScaling({{&p, {}, false}}, Tasks(9), Anyone, 0);
  CHECK(d.spawn["local"] == 3);
}

TEST_CASE("a pool keeps its min and only grows for tasks it can serve") {
  PoolConfig gpu = Pool("gpu", 0, 4, {{"gpu", "yes"}});
  PoolConfig cpu = Pool("cpu", 2, 4);
  auto d = DecideScaling({{&gpu, {}, false}, {&cpu, {}, false}}, Tasks(1, "p", {{"gpu", "yes"}}),
                         Anyone, 0);
  CHECK(d.spawn["gpu"] == 1);
  CHECK(d.spawn["cpu"] == 2);  // min
  // A task for a label no pool has grows nothing.
  d = DecideScaling({{&gpu, {}, false}}, Tasks(2, "p", {{"arch", "arm"}}), Anyone, 0);
  CHECK(d.spawn.empty());
}

TEST_CASE("a project without machine time left makes no pool grow") {
  PoolConfig p = Pool("local", 0, 5);
  auto tasks = Tasks(2, "broke");
  auto more = Tasks(1, "rich");
  tasks.insert(tasks.end(), more.begin(), more.end());
  int asked = 0;
  auto d = DecideScaling(
      {{&p, {}, false}}, tasks,
      [&](const std::string& project) {
        ++asked;
        return project == "rich";
      },
      0);
  CHECK(d.spawn["local"] == 1);
  CHECK(asked == 2);  // once per project
}

TEST_CASE("a pool backing off after failures does not grow") {
  PoolConfig p = Pool("local", 1, 5);
  auto d = DecideScaling({{&p, {}, true}}, Tasks(3), Anyone, 0);
  CHECK(d.spawn.empty());
}

TEST_CASE("idle machines past the timeout are retired down to min") {
  PoolConfig p = Pool("local", 1, 5);
  PoolView v{
      &p, {{"m-1", false, true, 0}, {"m-2", false, true, 0}, {"m-3", false, true, 50'000}}, false};
  auto d = DecideScaling({v}, {}, Anyone, 30'000);
  CHECK(d.retire.empty());
  // m-3 idled only 10 s.
  d = DecideScaling({v}, {}, Anyone, 60'000);
  CHECK(d.retire == std::vector<std::string>{"m-1", "m-2"});
  // All three idle long enough: one stays for min.
  d = DecideScaling({v}, {}, Anyone, 120'000);
  CHECK(d.retire == std::vector<std::string>{"m-1", "m-2"});
  // Busy machines stay; nothing is retired while tasks wait for the pool.
  d = DecideScaling({v}, Tasks(1), Anyone, 120'000);
  CHECK(d.retire.empty());
}

TEST_CASE("a task a ready idle machine of the pool did not take makes the pool no bigger") {
  PoolConfig p = Pool("local", 0, 5);
  // The scheduler left the task next to an idle machine (it lacks the tool, say): another
  // machine of the same pool would not take it either.
  PoolView v{&p, {{"m-1", false, true, 0}}, false};
  auto d = DecideScaling({v}, Tasks(1), Anyone, 1'000);
  CHECK(d.spawn.empty());
  CHECK(d.retire.empty());
}
