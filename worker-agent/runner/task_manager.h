// The tasks this agent runs: starts each attempt's tool in its workspace, turns its output and
// exit into events (TaskStarted, TaskLog..., TaskFinished, in that order, through the outbox),
// and cancels, refuses or supersedes attempts as the controller asks.
//
// Runs on the agent's io_context; every method is for that thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/log_batcher.h"
#include "worker-agent/runner/task_box.h"
#include "worker-agent/runner/task_env.h"
#include "worker-agent/runner/task_meter.h"
#include "worker-agent/runner/tool_process.h"

namespace autovibe {

struct TaskManagerOptions {
  std::string data_dir;  // workspaces live in <data_dir>/workspaces/<task id>
  uint32_t slots = 1;    // tasks at once
  Duration default_grace = std::chrono::seconds(5);
  ResourceLimits limits;
  size_t max_output_bytes = 16 << 20;
  // Where tools' LLM calls go. Null: tools get no provider URL or key at all.
  TaskMeter* meter = nullptr;
  AgentEnvironment agent_env;
  // Boxes each task (its own user, namespaces, limits). Null: tools run as the agent's user
  // (task_user = "root").
  std::shared_ptr<runner::TaskBoxes> boxes;
  LogBatcherOptions logs;
  // Runs (on the owner thread) after each attempt's TaskFinished is sent, except when the
  // agent stops: the agent checkpoints the workspace then.
  std::function<void(const std::string& task_id, uint32_t attempt)> on_ended;
  // Reads a repository task's workspace into its result once its tool has ended (succeeded,
  // or failed when the task asks to keep that too), before TaskFinished is sent; `done` runs on
  // the owner thread. The task keeps its slot meanwhile. Null: no result is read.
  using HarvestDone = std::function<void(v1::RepoResult)>;
  std::function<void(const std::string& task_id, const v1::RepoSpec& repo, HarvestDone done)>
      harvest;
};

class TaskManager {
 public:
  // `outbox` must outlive the manager.
  TaskManager(boost::asio::io_context& ioc, EventOutbox& outbox, TaskManagerOptions options);
  // Kills every tool still running (SIGKILL to its process group) and reports nothing more.
  ~TaskManager();
  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  using RunDone = std::function<void(Result<void>)>;

  // Starts one attempt of a task; `done` gets the answer once its tool runs or could not start.
  // A boxed task's workspace is handed to its user first, off the owner thread
  // (runner::TaskBoxes::Prepare): its answer comes later, and meanwhile the task is being
  // prepared (below). Otherwise, and for a refusal, `done` runs before Run returns.
  // Ok also when this attempt already runs or ran here (the command is idempotent); asked again
  // while it is being prepared, both get the one answer. A newer attempt of a task running here
  // replaces the old copy, which is killed and reported cancelled; one being prepared does not
  // start, and the newer attempt follows once it is dropped. Error codes
  // (CommandReply.error_code): "bad_task" (it can never run: bad id, unknown tool, what the
  // adapter refused, a command that cannot be executed), "draining", "busy" (all slots used, or
  // all task users), "unavailable" (the agent is stopping, or cannot make the workspace or a
  // process), "io" (its workspace cannot be handed to its user).
  //
  // A task being prepared holds its slot and counts as running here for Running, AttemptOf,
  // running() and WhenEnded; a stop asked for meanwhile (Cancel, Pause) waits for its tool and
  // stops it as soon as it runs. It is not in RunningTaskIds until its tool runs.
  void Run(const v1::RunTask& task, RunDone done);

  // SIGTERM to the task's tool (`delay` from now), SIGKILL after its grace period; it ends as
  // CANCELLED with "cancelled: <reason>". A task not running here is ignored (cancel is
  // idempotent); an immediate stop overtakes a delayed one.
  void Cancel(const std::string& task_id, const std::string& reason, Duration delay = Duration(0));

  // Like Cancel, but the task ends as PAUSED with "paused: <reason>" and what the tool reported
  // of itself so far (its session, to resume); its workspace stays for a later RunTask with
  // `resume`. A task not running here is ignored.
  void Pause(const std::string& task_id, const std::string& reason, Duration delay = Duration(0));

  // The meter refused one of the task's calls (its budget is used up): like Pause (or Cancel
  // when `pause` is false) with `delay`, but a delayed stop already on its way is restarted
  // once, so the tool gets `delay` from the refusal to show it. The first stop's reason stands.
  void StopAfterRefusal(const std::string& task_id, const std::string& reason, bool pause,
                        Duration delay);

  // While draining, new tasks are refused and running ones go on.
  void SetDraining(bool draining) { draining_ = draining; }
  bool draining() const { return draining_; }

  // For the agent's shutdown: refuses new tasks and cancels the running ones with `reason`.
  // `done` runs (posted) once no task runs any more.
  void Stop(const std::string& reason, std::function<void()> done);
  // Kills what still runs at once and reports each as cancelled with the stop reason.
  void KillAll();

  // Runs `then` (posted) once the task no longer runs here: at once when it does not.
  void WhenEnded(const std::string& task_id, std::function<void()> then);
  bool Running(const std::string& task_id) const {
    return running_.contains(task_id) || preparing_.contains(task_id);
  }
  // The attempt of the task running (or being prepared) here; 0 when none.
  uint32_t AttemptOf(const std::string& task_id) const;

  // The tasks whose tool runs here.
  std::vector<std::string> RunningTaskIds() const;
  // Slots in use: tasks running or being prepared, each once (a new attempt may be prepared
  // while the one it supersedes is still dying).
  size_t running() const {
    size_t n = running_.size();
    for (const auto& [id, p] : preparing_) n += running_.count(id) == 0 ? 1 : 0;
    return n;
  }

 private:
  struct Attempt;
  // A boxed attempt whose workspace is being handed to its user.
  struct Preparing {
    uint32_t attempt = 0;
    std::vector<RunDone> waiters;  // answered when it starts or cannot
    uint32_t superseded_by = 0;    // a newer attempt asked to run: this one will not start
    // A stop asked for meanwhile, applied as soon as the tool runs (see StopTool).
    bool stop = false;
    std::string stop_reason;
    bool stop_pause = false;
    Duration stop_delay{0};
  };

  // Another RunTask for a task being prepared.
  void RunWhilePreparing(Preparing& p, const v1::RunTask& task, RunDone done);
  void Prepare(const v1::RunTask& task, const std::string& workspace, tools::ToolLaunch launch,
               const std::string& token, RunDone done);
  void Prepared(const v1::RunTask& task, const std::string& workspace, tools::ToolLaunch launch,
                const std::string& token, Result<runner::BoxedTask> boxed);
  // `boxed`: its box, made ready; null for an unboxed task.
  Result<void> Start(const v1::RunTask& task, const std::string& workspace,
                     tools::ToolLaunch launch, const std::string& token, runner::BoxedTask* boxed);
  void StopTool(const std::string& task_id, const std::string& reason, bool pause, Duration delay);
  void OnExit(Attempt* a, const ToolExit& exit);
  // For a repository task whose tool ended as `f` says: reads its result first (harvest),
  // then Finished.
  void FinishWithResult(Attempt& a, v1::TaskFinished f);
  // Kills the tool at once (superseded, or the agent stops) and reports it cancelled.
  void Abort(Attempt& a, const std::string& reason);
  void Finished(Attempt& a, v1::TaskFinished finished);
  // Runs the WhenEnded callbacks of a task that ended (or never started).
  void Ended(const std::string& task_id);
  void NotifyStopped();
  uint16_t ProxyPort() const;
  void Emit(v1::AgentEvent event);
  bool RanHere(const std::string& task_id, uint32_t attempt) const;

  boost::asio::io_context& ioc_;
  EventOutbox& outbox_;
  const TaskManagerOptions options_;
  std::map<std::string, std::unique_ptr<Attempt>> running_;  // by task id
  std::map<std::string, Preparing> preparing_;               // by task id
  // Attempts that ended here lately: a repeated RunTask for one of them must not run it again.
  std::deque<std::pair<std::string, uint32_t>> ended_;
  bool draining_ = false;
  bool stopping_ = false;
  std::string stop_reason_;
  std::function<void()> on_stopped_;
  std::multimap<std::string, std::function<void()>> when_ended_;
  // False once the manager is gone: a box made ready after that is dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe
