// Shared by the task manager tests: a TaskManager running real tools, its events captured by a
// Bus double behind the real outbox (fake_event_bus.h), optionally boxing its tasks.
#pragma once

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/fake_event_bus.h"
#include "worker-agent/runner/task_manager.h"

namespace autovibe::testing {

using namespace std::chrono_literals;

inline constexpr const char* kAgentKey = "sk-agent-anthropic";

// True when the test's main thread, which forks the keepers, has no child left (zombies
// included). Also true where the kernel does not list children.
inline bool NoChildren() {
  std::ifstream f("/proc/self/task/" + std::to_string(getpid()) + "/children");
  std::string pid;
  return !(f >> pid);
}

// Stands in for the agent's metering proxy: remembers which tokens are live.
class FakeMeter final : public TaskMeter {
 public:
  std::string url() const override { return "http://127.0.0.1:9"; }
  void TaskStarted(const v1::RunTask& task, const std::string& token,
                   const TokenBinding& binding) override {
    tokens[task.task_id()] = token;
    bindings[task.task_id()] = binding;
  }
  void TaskEnded(const std::string& task_id) override { tokens.erase(task_id); }
  std::map<std::string, std::string> tokens;  // live ones, by task
  std::map<std::string, TokenBinding> bindings;
};

class Fixture {
 public:
  // `uid_base`: box the tasks, with task users from there (needs root and bubblewrap); 0: not.
  explicit Fixture(uint32_t slots = 1, size_t max_output_bytes = 16 << 20, uid_t uid_base = 0) {
    outbox.SetMachineId("m-1");
    TaskManagerOptions o;
    o.data_dir = dir.path();
    o.slots = slots;
    o.default_grace = 500ms;
    o.max_output_bytes = max_output_bytes;
    o.meter = &meter;
    o.agent_env = {"/usr/bin:/bin", dir / "home", kAgentKey, "sk-agent-openai"};
    o.logs.flush_delay = 20ms;
    if (uid_base != 0) {
      runner::TaskBoxesOptions b;
      b.data_dir = dir.path();
      b.slots = slots;
      b.settings.uid_base = uid_base;
      o.boxes = std::make_shared<runner::TaskBoxes>(ioc, std::move(b));
    }
    tasks = std::make_unique<TaskManager>(ioc, outbox, std::move(o));
  }

  // Killed tools' keepers are reaped by handlers on the io_context: run it until they are,
  // so no zombie outlives this test (later tests count the keepers they leave).
  ~Fixture() {
    tasks.reset();
    RunUntil(NoChildren, 3s);
  }

  // Runs the io_context until `done` holds; false at the deadline.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = 5s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      ioc.run_one_for(10ms);
    }
    return true;
  }

  // RunTask's answer: an unboxed task's comes before TaskManager::Run returns, a boxed task's
  // once its box is ready.
  Result<void> Run(const v1::RunTask& task) {
    auto answer = std::make_shared<std::optional<Result<void>>>();
    tasks->Run(task, [answer](Result<void> r) { *answer = std::move(r); });
    REQUIRE(RunUntil([&] { return answer->has_value(); }, 20s));
    return **answer;
  }

  std::vector<v1::AgentEvent> EventsOf(const std::string& task) const {
    std::vector<v1::AgentEvent> out;
    for (const auto& p : bus.Events()) {
      const v1::AgentEvent& e = p.event;
      if ((e.has_task_started() && e.task_started().task_id() == task) ||
          (e.has_task_log() && e.task_log().task_id() == task) ||
          (e.has_task_finished() && e.task_finished().task_id() == task)) {
        out.push_back(e);
      }
    }
    return out;
  }

  std::optional<v1::TaskFinished> FinishedOf(const std::string& task, uint32_t attempt = 1) {
    for (const auto& e : EventsOf(task)) {
      if (e.has_task_finished() && e.task_finished().attempt() == attempt) {
        return e.task_finished();
      }
    }
    return std::nullopt;
  }

  v1::TaskFinished WaitFinished(const std::string& task, uint32_t attempt = 1) {
    REQUIRE(RunUntil([&] { return FinishedOf(task, attempt).has_value(); }));
    return *FinishedOf(task, attempt);
  }

  std::string Output(const std::string& task, v1::LogStream stream) const {
    std::string out;
    for (const auto& e : EventsOf(task)) {
      if (e.has_task_log() && e.task_log().stream() == stream) out += e.task_log().data();
    }
    return out;
  }

  size_t StartedCount(const std::string& task) const {
    size_t n = 0;
    for (const auto& e : EventsOf(task)) n += e.has_task_started() ? 1 : 0;
    return n;
  }

  FakeMeter meter;
  TempDir dir{"av-task-manager"};
  boost::asio::io_context ioc;
  // Keeps run_one_for waiting for the outbox thread when no handler is due.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  FakeEventBus bus;
  EventOutbox outbox{bus, EventOutboxOptions{.min_backoff = 5ms, .max_backoff = 20ms}};
  std::unique_ptr<TaskManager> tasks;
};

inline v1::RunTask Shell(const std::string& id, std::vector<std::string> argv,
                         uint32_t attempt = 1) {
  v1::RunTask t;
  t.set_task_id(id);
  t.set_project("demo");
  t.set_tool("shell");
  t.set_attempt(attempt);
  for (auto& a : argv) t.add_command(std::move(a));
  return t;
}

}  // namespace autovibe::testing
