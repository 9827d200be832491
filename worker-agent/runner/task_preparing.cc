// TaskManager: boxed attempts whose workspace is being handed to their task user. A restored
// checkpoint can be tens of thousands of files; the owner thread goes on meanwhile (heartbeats,
// commands, the other tasks) and the attempt starts once its box is ready.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "worker-agent/runner/task_manager.h"

namespace autovibe {

void TaskManager::RunWhilePreparing(Preparing& p, const v1::RunTask& task, RunDone done) {
  const std::string& id = task.task_id();
  if (p.attempt == task.attempt()) {
    // The same command again (its answer was lost, or is late): one answer for both.
    p.waiters.push_back(std::move(done));
    return;
  }
  if (p.attempt > task.attempt()) {
    return done(MakeError(ErrorCode::kUnavailable, "attempt " + std::to_string(p.attempt) +
                                                       " of task " + id + " already runs here"));
  }
  // One workspace, one tool: the older attempt will not start, and this one is asked again
  // once the older has let go of the workspace.
  p.superseded_by = std::max(p.superseded_by, task.attempt());
  when_ended_.emplace(id, [this, alive = alive_, task, done = std::move(done)] {
    if (*alive) Run(task, done);
  });
}

void TaskManager::Prepare(const v1::RunTask& task, const std::string& workspace,
                          tools::ToolLaunch launch, const std::string& token, RunDone done) {
  Preparing& p = preparing_[task.task_id()];
  p.attempt = task.attempt();
  p.waiters.push_back(std::move(done));
  auto held = std::make_shared<tools::ToolLaunch>(std::move(launch));
  options_.boxes->Prepare(
      task.task_id(), workspace, ProxyPort(),
      [this, alive = alive_, task, workspace, held, token](Result<runner::BoxedTask> boxed) {
        if (*alive) Prepared(task, workspace, std::move(*held), token, std::move(boxed));
      });
}

void TaskManager::Prepared(const v1::RunTask& task, const std::string& workspace,
                           tools::ToolLaunch launch, const std::string& token,
                           Result<runner::BoxedTask> boxed) {
  const std::string& id = task.task_id();
  auto node = preparing_.extract(id);
  if (node.empty()) return;
  Preparing& p = node.mapped();
  Result<void> started;
  if (stopping_) {
    started = MakeError(ErrorCode::kUnavailable, "the agent is stopping");
  } else if (p.superseded_by > 0) {
    started = MakeError(ErrorCode::kUnavailable,
                        "superseded by attempt " + std::to_string(p.superseded_by));
  } else if (!boxed) {
    spdlog::warn("task {} attempt {} cannot be boxed: {}", id, p.attempt, boxed.error().message);
    started = boxed.error();
  } else {
    started = Start(task, workspace, std::move(launch), token, &*boxed);
  }
  for (auto& waiter : p.waiters) waiter(started);
  if (!started) {
    Ended(id);  // what waited for it goes on; the box (its uid) is dropped on return
    return;
  }
  if (p.stop) StopTool(id, p.stop_reason, p.stop_pause, p.stop_delay);
}

}  // namespace autovibe
