#include "tests/bench/sim_workers.h"

#include <algorithm>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "common/core/time.h"

namespace autovibe::bench {
namespace {

constexpr size_t kMaxCommand = 1 << 20;
constexpr auto kPublishTimeout = std::chrono::seconds(5);
constexpr int kPublishAttempts = 5;

}  // namespace

SimWorkers::SimWorkers(Bus& bus, std::string subject_prefix, int publishers)
    : bus_(bus), prefix_(std::move(subject_prefix)), publisher_count_(std::max(publishers, 1)) {}

SimWorkers::~SimWorkers() { Stop(); }

Result<void> SimWorkers::Start() {
  // The controller creates the stream when it connects; creating it here too (same settings)
  // is harmless and means no event can be published before it exists.
  if (auto r = bus_.EnsureStream(
          StreamConfig{std::string(kEventsStream), {Subjects(prefix_).AllEvents()}});
      !r) {
    return r.error();
  }
  {
    std::lock_guard lock(queue_mu_);
    stop_ = false;
  }
  for (int i = 0; i < publisher_count_; ++i) publishers_.emplace_back([this] { PublishLoop(); });
  auto sub = bus_.Subscribe(prefix_ + ".cmd.*", "bench_command", kMaxCommand,
                            [this](BusMessage m) { OnCommand(m); });
  if (!sub) return sub.error();
  sub_ = std::move(*sub);
  return {};
}

void SimWorkers::Stop() {
  sub_.reset();
  {
    std::lock_guard lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : publishers_) t.join();
  publishers_.clear();
}

std::vector<SimWorkers::Arrival> SimWorkers::Arrivals() const {
  std::lock_guard lock(mu_);
  return arrivals_;
}

std::vector<double> SimWorkers::SimSideMs() const {
  std::lock_guard lock(mu_);
  return sim_side_ms_;
}

std::vector<double> SimWorkers::TurnaroundMs() const {
  std::lock_guard lock(mu_);
  return turnaround_ms_;
}

void SimWorkers::ClearArrivals() {
  std::lock_guard lock(mu_);
  arrivals_.clear();
  sim_side_ms_.clear();
  turnaround_ms_.clear();
  last_ack_.clear();
}

void SimWorkers::OnCommand(const BusMessage& m) {
  const auto now = Clock::now();
  struct Busy {
    std::atomic<int64_t>& total;
    Clock::time_point from;
    ~Busy() { total += (Clock::now() - from).count(); }
  } busy{handler_busy_ns_, now};
  v1::Command cmd;
  if (!cmd.ParseFromString(m.data)) {
    ++other_commands_;
    return;
  }
  const std::string machine_id = m.subject.substr(m.subject.rfind('.') + 1);
  v1::CommandReply reply;
  reply.set_command_id(cmd.command_id());
  reply.set_ok(true);
  if (cmd.has_run_task()) {
    const v1::RunTask& run = cmd.run_task();
    bool fresh = false;
    {
      std::lock_guard lock(mu_);
      // The same attempt on the same machine is the same run (RunTask is idempotent); the
      // controller may place an attempt whose assignment it never heard answered on another
      // machine under the same attempt number, and that is a new run.
      fresh = seen_.insert(run.task_id() + "#" + std::to_string(run.attempt()) + "@" + machine_id)
                  .second;
      if (fresh) {
        arrivals_.push_back({run.task_id(), now});
        if (busy_[machine_id]++ > 0) ++overlaps_;
        if (auto it = last_ack_.find(machine_id); it != last_ack_.end()) {
          turnaround_ms_.push_back(
              std::chrono::duration<double, std::milli>(now - it->second).count());
          last_ack_.erase(it);
        }
      }
    }
    if (!fresh) {
      // The controller asked again (its answer was lost): the command is idempotent, the
      // finish is already on its way.
      ++duplicate_runs_;
    } else {
      ++run_tasks_;
    }
    if (!m.reply.empty() && !bus_.Publish(m.reply, reply.SerializeAsString())) ++reply_errors_;
    if (fresh) {
      {
        std::lock_guard lock(queue_mu_);
        queue_.push_back({machine_id, run.task_id(), run.attempt(), now});
      }
      queue_cv_.notify_one();
    }
    return;
  }
  if (cmd.has_cancel_task()) {
    ++cancels_;
  } else {
    ++other_commands_;
  }
  if (!m.reply.empty() && !bus_.Publish(m.reply, reply.SerializeAsString())) ++reply_errors_;
}

void SimWorkers::PublishLoop() {
  std::string payload;
  for (;;) {
    Finish f;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      f = std::move(queue_.front());
      queue_.pop_front();
    }
    v1::AgentEvent ev;
    ev.set_event_id(NewId("e"));
    ev.set_machine_id(f.machine_id);
    ev.set_at_unix_ns(UnixNowNs());
    v1::TaskFinished* done = ev.mutable_task_finished();
    done->set_task_id(f.task_id);
    done->set_attempt(f.attempt);
    done->set_outcome(v1::TASK_OUTCOME_SUCCEEDED);
    done->set_exit_code(0);
    ev.SerializeToString(&payload);
    const std::string subject = Subjects(prefix_).Events(f.machine_id);
    {
      // The slot is free from here on: the controller can only hear of the finish after
      // this, so a RunTask for this machine before this point means two tasks in one slot.
      std::lock_guard lock(mu_);
      if (--busy_[f.machine_id] < 0) busy_[f.machine_id] = 0;
    }
    bool ok = false;
    for (int attempt = 0; attempt < kPublishAttempts && !ok; ++attempt) {
      if (attempt > 0) ++publish_retries_;
      ok = static_cast<bool>(bus_.StreamPublish(subject, payload, ev.event_id(), kPublishTimeout));
      if (!ok) {
        std::lock_guard lock(queue_mu_);
        if (stop_) return;
      }
    }
    if (!ok) ++publish_failures_;
    {
      const auto acked = Clock::now();
      std::lock_guard lock(mu_);
      sim_side_ms_.push_back(std::chrono::duration<double, std::milli>(acked - f.arrived).count());
      // The next RunTask may already be here (the controller consumed the event before this
      // thread saw the ack): then there is no turnaround to measure for it.
      if (busy_[f.machine_id] == 0) last_ack_[f.machine_id] = acked;
    }
    ++finished_;
  }
}

}  // namespace autovibe::bench
