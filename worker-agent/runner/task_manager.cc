#include "worker-agent/runner/task_manager.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <optional>

#include "common/core/ids.h"
#include "worker-agent/runner/tool_files.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Enough to recognise a RunTask repeated because its reply was lost.
constexpr size_t kRememberEnded = 256;

uint64_t MillisSince(SteadyClock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count());
}

}  // namespace

struct TaskManager::Attempt {
  std::string task_id;
  uint32_t attempt = 0;
  Duration timeout{0};
  SteadyClock::time_point started = SteadyClock::now();
  std::string cancel_reason;  // set once cancelled
  bool pause = false;         // the cancel is a pause: the workspace is kept for a resume
  std::unique_ptr<boost::asio::steady_timer> stop_timer;  // a stop asked for later
  // What that stop will say; should the tool exit before it, its exit is that stop.
  std::string pending_reason;
  bool pending_pause = false;
  bool stop_rearmed = false;  // a refused call restarted the delayed stop (once)
  std::unique_ptr<tools::ToolRun> run;
  std::unique_ptr<LogBatcher> logs;
  std::optional<v1::RepoSpec> repo;  // a repository task's
  bool harvesting = false;           // its tool ended; its result is being read
  // Last, so it dies first: once it is gone no output or exit callback can reach the rest.
  std::unique_ptr<ToolProcess> process;
};

TaskManager::TaskManager(boost::asio::io_context& ioc, EventOutbox& outbox,
                         TaskManagerOptions options)
    : ioc_(ioc), outbox_(outbox), options_(std::move(options)) {}

TaskManager::~TaskManager() { *alive_ = false; }

uint16_t TaskManager::ProxyPort() const {
  if (options_.meter == nullptr) return 0;
  const std::string url = options_.meter->url();
  const size_t colon = url.rfind(':');
  return colon == std::string::npos ? 0 : static_cast<uint16_t>(std::atoi(url.c_str() + colon + 1));
}

void TaskManager::Run(const v1::RunTask& task, RunDone done) {
  const std::string& id = task.task_id();
  if (stopping_) return done(MakeError(ErrorCode::kUnavailable, "the agent is stopping"));
  if (!ValidTaskId(id)) {
    return done(MakeError(
        ErrorCode::kBadTask,
        "task id \"" + id.substr(0, 80) + "\" is not 1-64 of letters, digits, '.', '_', '-'"));
  }
  if (auto p = preparing_.find(id); p != preparing_.end()) {
    return RunWhilePreparing(p->second, task, std::move(done));
  }
  auto it = running_.find(id);
  Attempt* old = it != running_.end() ? it->second.get() : nullptr;
  if (old != nullptr && old->attempt == task.attempt()) return done({});
  if (old != nullptr && old->attempt > task.attempt()) {
    return done(MakeError(ErrorCode::kUnavailable, "attempt " + std::to_string(old->attempt) +
                                                       " of task " + id + " already runs here"));
  }
  if (RanHere(id, task.attempt())) return done({});
  if (draining_) {
    return done(MakeError(ErrorCode::kDraining, "the machine is draining: it takes no new tasks"));
  }
  if (old == nullptr && running() >= options_.slots) {
    return done(MakeError(ErrorCode::kBusy,
                          "all " + std::to_string(options_.slots) + " task slots are in use"));
  }
  const tools::ToolAdapter* adapter = tools::FindAdapter(task.tool());
  if (adapter == nullptr) {
    return done(
        MakeError(ErrorCode::kBadTask, "unknown tool \"" + task.tool().substr(0, 80) + "\""));
  }
  // The tool reaches the providers only through the metering proxy, with its own token.
  tools::ProviderAccess access;
  const std::string token = NewSecret(24);
  if (options_.meter != nullptr) {
    const std::string url = options_.meter->url();
    access = {url, token, url + "/v1", token};
  }
  auto launch = adapter->Prepare(task, access);
  if (!launch) return done(MakeError(ErrorCode::kBadTask, launch.error().message));
  auto workspace = PrepareWorkspace(options_.data_dir, id);
  if (!workspace) return done(MakeError(ErrorCode::kUnavailable, workspace.error().message));
  // One workspace, one tool: the old copy is gone before the new one starts.
  if (old != nullptr) Abort(*old, "superseded by attempt " + std::to_string(task.attempt()));
  // The tool's settings go to the task's own home, outside the workspace.
  if (auto placed = runner::PlaceToolFiles(TaskHomePath(options_.data_dir, id), *launch); !placed) {
    const Error& e = placed.error();
    return done(e.code == ErrorCode::kBadTask ? e : MakeError(ErrorCode::kUnavailable, e.message));
  }
  if (options_.boxes) {
    return Prepare(task, *workspace, std::move(*launch), token, std::move(done));
  }
  done(Start(task, *workspace, std::move(*launch), token, nullptr));
}

Result<void> TaskManager::Start(const v1::RunTask& task, const std::string& workspace,
                                tools::ToolLaunch launch, const std::string& token,
                                runner::BoxedTask* boxed) {
  auto a = std::make_unique<Attempt>();
  a->task_id = task.task_id();
  a->attempt = task.attempt();
  a->timeout = Duration(task.timeout_ms());
  a->run = std::move(launch.run);
  if (task.has_repo()) a->repo = task.repo();
  a->logs = std::make_unique<LogBatcher>(ioc_, a->task_id, a->attempt, options_.logs,
                                         [this](v1::TaskLog log) {
                                           v1::AgentEvent e;
                                           *e.mutable_task_log() = std::move(log);
                                           return outbox_.Add(std::move(e));
                                         });

  ToolProcessOptions po;
  po.env = TaskEnvironment(task, options_.agent_env, launch.env);
  po.argv = std::move(launch.argv);
  po.cwd = workspace;
  po.timeout = a->timeout;
  po.grace = task.grace_ms() > 0 ? Duration(task.grace_ms()) : options_.default_grace;
  po.limits = options_.limits;
  po.max_output_bytes = options_.max_output_bytes;
  const std::string binary = po.argv.empty() ? "" : po.argv[0];

  runner::UniqueFd listener_channel;
  TokenBinding binding;  // unboxed: anyone may use the token
  if (boxed != nullptr) {
    runner::BoxEnvironment(po.env, boxed->home);
    po.limits = options_.boxes->Limits(po.limits);
    binding = {.uid = boxed->launch->uid, .own_listener = boxed->launch->own_network};
    po.box = std::move(boxed->launch);
    po.keep_until_reaped = std::move(boxed->hold);
    listener_channel = std::move(boxed->listener_channel);
  }

  // Known to the proxy before the tool can make its first call.
  if (options_.meter != nullptr) options_.meter->TaskStarted(task, token, binding);
  Attempt* raw = a.get();
  // The adapter reads the whole transcript (its result line comes last), logs or not.
  po.on_dropped_output = [raw](OutputStream stream, std::string_view data) {
    if (stream == OutputStream::kStdout) raw->run->OnStdout(data);
  };
  auto process = StartToolProcess(
      ioc_, std::move(po),
      [raw](OutputStream stream, std::string_view data) {
        if (stream == OutputStream::kStdout) raw->run->OnStdout(data);
        raw->logs->Append(stream, data);
      },
      [this, raw](const ToolExit& exit) { OnExit(raw, exit); });
  if (!process) {
    const Error& e = process.error();
    spdlog::warn("task {} attempt {} did not start: {}", a->task_id, a->attempt, e.message);
    if (options_.meter != nullptr) options_.meter->TaskEnded(a->task_id);
    // Out of processes or descriptors passes; anything else is the task's own doing.
    return MakeError(
        e.code == ErrorCode::kUnavailable ? ErrorCode::kUnavailable : ErrorCode::kBadTask,
        "cannot start " + binary + ": " + e.message);
  }
  a->process = std::move(*process);
  if (listener_channel.get() >= 0) {
    // Sent by the keeper before the tool was exec'd, so already here.
    const int listener = runner::ReceiveListener(listener_channel.get());
    if (listener >= 0 && options_.meter != nullptr) {
      options_.meter->TaskListener(a->task_id, listener);
    } else if (listener >= 0) {
      close(listener);
    }
  }
  spdlog::info("task {} attempt {} started tool={} pid={}", a->task_id, a->attempt, task.tool(),
               a->process->pid());
  v1::AgentEvent e;
  auto* started = e.mutable_task_started();
  started->set_task_id(a->task_id);
  started->set_attempt(a->attempt);
  started->set_pid(a->process->pid());
  Emit(std::move(e));
  running_[a->task_id] = std::move(a);
  return {};
}

void TaskManager::Cancel(const std::string& task_id, const std::string& reason, Duration delay) {
  StopTool(task_id, reason.empty() ? "cancelled by the controller" : reason, false, delay);
}

void TaskManager::Pause(const std::string& task_id, const std::string& reason, Duration delay) {
  StopTool(task_id, reason.empty() ? "paused by the controller" : reason, true, delay);
}

void TaskManager::StopAfterRefusal(const std::string& task_id, const std::string& reason,
                                   bool pause, Duration delay) {
  auto it = running_.find(task_id);
  if (it == running_.end()) return;
  Attempt& a = *it->second;
  if (a.cancel_reason.empty() && a.stop_timer && !a.stop_rearmed && delay.count() > 0) {
    // The stop was asked for before the tool made the call now refused (the controller saw the
    // budget used up first): its moment to show the refusal counts from now, once.
    a.stop_rearmed = true;
    a.stop_timer.reset();
  }
  StopTool(task_id, reason, pause, delay);
}

void TaskManager::StopTool(const std::string& task_id, const std::string& reason, bool pause,
                           Duration delay) {
  if (auto p = preparing_.find(task_id); p != preparing_.end()) {
    // No tool to stop yet: the stop waits for it. The first stop stands, but an immediate one
    // overtakes a delayed one, as below.
    Preparing& pr = p->second;
    if (pr.stop && !(pr.stop_delay.count() > 0 && delay.count() == 0)) return;
    pr.stop = true;
    pr.stop_reason = reason;
    pr.stop_pause = pause;
    pr.stop_delay = delay;
    return;
  }
  auto it = running_.find(task_id);
  if (it == running_.end()) return;
  Attempt& a = *it->second;
  if (!a.cancel_reason.empty()) return;  // stopping already
  if (a.harvesting) return;              // its tool ended; only its result is being read
  if (delay.count() > 0) {
    if (a.stop_timer) return;  // the first delayed stop stands; an immediate one overtakes it
    if (a.pending_reason.empty()) {
      a.pending_reason = reason;
      a.pending_pause = pause;
    }
    a.stop_timer = std::make_unique<boost::asio::steady_timer>(ioc_, delay);
    a.stop_timer->async_wait(
        [this, task_id, attempt = a.attempt, reason, pause](boost::system::error_code ec) {
          auto it = running_.find(task_id);
          if (ec || it == running_.end() || it->second->attempt != attempt) return;
          StopTool(task_id, reason, pause, Duration(0));
        });
    return;
  }
  a.pause = pause;
  a.cancel_reason = reason;
  const char* what = pause ? "paused" : "cancelled";
  spdlog::info("task {} attempt {} {}: {}", a.task_id, a.attempt, what, a.cancel_reason);
  a.logs->Note(std::string(what) + ": " + a.cancel_reason);
  a.process->Cancel();
}

void TaskManager::OnExit(Attempt* a, const ToolExit& exit) {
  a->logs->Finish();
  if (exit.output_bytes_dropped > 0) {
    a->logs->Note("output truncated: " + std::to_string(exit.output_bytes_dropped) +
                  " bytes dropped (over the agent's max_output_bytes)");
  }
  v1::TaskFinished f;
  // A tool that exits on its own while a stop is on its way (e.g. Claude Code after showing
  // the budget's 429) ends as that stop says.
  const bool stopped = exit.cancelled || !a->pending_reason.empty();
  if (!exit.cancelled && stopped) {
    a->pause = a->pending_pause;
    a->cancel_reason = a->pending_reason;
    a->logs->Note(std::string(a->pause ? "paused" : "cancelled") + ": " + a->cancel_reason);
  }
  if (stopped && a->pause) {
    f.set_outcome(v1::TASK_OUTCOME_PAUSED);
    f.set_reason("paused: " + a->cancel_reason);
    *f.mutable_report() = a->run->Report();
  } else if (stopped) {
    f.set_outcome(v1::TASK_OUTCOME_CANCELLED);
    f.set_reason("cancelled: " + a->cancel_reason);
  } else if (exit.timed_out) {
    f.set_outcome(v1::TASK_OUTCOME_TIMED_OUT);
    f.set_reason("timed out after " + FormatDuration(a->timeout));
    a->logs->Note(f.reason());
  } else {
    tools::ToolVerdict verdict = a->run->Finish(exit.exit_code, exit.signal);
    f.set_outcome(verdict.outcome);
    f.set_reason(std::move(verdict.reason));
    *f.mutable_report() = std::move(verdict.report);
  }
  f.set_exit_code(exit.exit_code);
  f.set_signal(exit.signal);
  f.set_duration_ms(static_cast<uint64_t>(exit.wall.count()));
  f.set_output_bytes_dropped(exit.output_bytes_dropped);
  FinishWithResult(*a, std::move(f));
}

void TaskManager::FinishWithResult(Attempt& a, v1::TaskFinished f) {
  const bool wanted =
      f.outcome() == v1::TASK_OUTCOME_SUCCEEDED ||
      (a.repo && a.repo->keep_on_failure() &&
       (f.outcome() == v1::TASK_OUTCOME_FAILED || f.outcome() == v1::TASK_OUTCOME_TIMED_OUT));
  if (!a.repo || !wanted || !options_.harvest) return Finished(a, std::move(f));
  a.harvesting = true;
  options_.harvest(
      a.task_id, *a.repo,
      [this, alive = alive_, id = a.task_id, attempt = a.attempt,
       f = std::move(f)](v1::RepoResult result) mutable {
        if (!*alive) return;
        auto it = running_.find(id);
        // Killed meanwhile (superseded, the agent stops): reported already.
        if (it == running_.end() || it->second->attempt != attempt || !it->second->harvesting) {
          return;
        }
        if (!result.error().empty() && f.outcome() == v1::TASK_OUTCOME_SUCCEEDED) {
          // A success whose change cannot be handed back is no success.
          f.set_outcome(v1::TASK_OUTCOME_FAILED);
          f.set_reason("the tool's changes could not be kept: " + result.error());
        }
        *f.mutable_repo() = std::move(result);
        Finished(*it->second, std::move(f));
      });
}

void TaskManager::Abort(Attempt& a, const std::string& reason) {
  a.process.reset();  // SIGKILL to the whole group, through its keeper
  if (a.cancel_reason.empty()) {
    a.cancel_reason = reason;
    a.logs->Note("cancelled: " + reason);
  }
  a.logs->Finish();
  v1::TaskFinished f;
  f.set_outcome(v1::TASK_OUTCOME_CANCELLED);
  f.set_reason("cancelled: " + a.cancel_reason);
  f.set_exit_code(-1);
  f.set_signal(SIGKILL);
  f.set_duration_ms(MillisSince(a.started));
  Finished(a, std::move(f));
}

// Sends TaskFinished after the attempt's last TaskLog and forgets the attempt.
void TaskManager::Finished(Attempt& a, v1::TaskFinished f) {
  f.set_task_id(a.task_id);
  f.set_attempt(a.attempt);
  f.set_output_bytes_dropped(f.output_bytes_dropped() + a.logs->dropped_bytes());
  if (options_.meter != nullptr) options_.meter->TaskEnded(a.task_id);
  spdlog::info("task {} attempt {} finished outcome={} exit_code={} signal={} {}", a.task_id,
               a.attempt, v1::TaskOutcome_Name(f.outcome()), f.exit_code(), f.signal(), f.reason());
  v1::AgentEvent e;
  *e.mutable_task_finished() = std::move(f);
  Emit(std::move(e));
  ended_.emplace_back(a.task_id, a.attempt);
  if (ended_.size() > kRememberEnded) ended_.pop_front();
  const std::string id = a.task_id;
  const uint32_t attempt = a.attempt;
  running_.erase(id);  // `a` is gone from here on
  if (!stopping_ && options_.on_ended) options_.on_ended(id, attempt);
  Ended(id);
}

void TaskManager::Ended(const std::string& task_id) {
  auto [first, last] = when_ended_.equal_range(task_id);
  for (auto it = first; it != last; ++it) boost::asio::post(ioc_, std::move(it->second));
  when_ended_.erase(first, last);
  if (stopping_ && running() == 0) NotifyStopped();
}

void TaskManager::WhenEnded(const std::string& task_id, std::function<void()> then) {
  if (!Running(task_id)) {
    boost::asio::post(ioc_, std::move(then));
    return;
  }
  when_ended_.emplace(task_id, std::move(then));
}

uint32_t TaskManager::AttemptOf(const std::string& task_id) const {
  if (auto p = preparing_.find(task_id); p != preparing_.end()) return p->second.attempt;
  auto it = running_.find(task_id);
  return it == running_.end() ? 0 : it->second->attempt;
}

void TaskManager::NotifyStopped() {
  if (on_stopped_) boost::asio::post(ioc_, std::exchange(on_stopped_, nullptr));
}

void TaskManager::Stop(const std::string& reason, std::function<void()> done) {
  stopping_ = true;
  stop_reason_ = reason;
  on_stopped_ = std::move(done);
  if (running() == 0) {
    NotifyStopped();
    return;
  }
  // Those being prepared are dropped once ready (Prepared).
  for (const auto& [id, a] : running_) Cancel(id, reason);
}

void TaskManager::KillAll() {
  while (!running_.empty()) {
    Abort(*running_.begin()->second, stop_reason_.empty() ? "the agent stopped" : stop_reason_);
  }
}

std::vector<std::string> TaskManager::RunningTaskIds() const {
  std::vector<std::string> ids;
  ids.reserve(running_.size());
  for (const auto& [id, a] : running_) ids.push_back(id);
  return ids;
}

void TaskManager::Emit(v1::AgentEvent event) {
  if (!outbox_.Add(std::move(event))) spdlog::error("agent event lost: no machine id yet");
}

bool TaskManager::RanHere(const std::string& task_id, uint32_t attempt) const {
  return std::find(ended_.begin(), ended_.end(), std::pair{task_id, attempt}) != ended_.end();
}

}  // namespace autovibe
