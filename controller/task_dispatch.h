// Carries the task book's decisions out over the bus and feeds it what agents report:
// assignments (request/reply on <prefix>.cmd.<m>, never blocking), cancels, the agents'
// event stream (JetStream AV_EVENTS, applied once per event id), and scheduling passes.
// Owner-thread only, except where noted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "autovibe/v1/event.pb.h"
#include "common/bus/bus.h"
#include "controller/api/task_followers.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"
#include "controller/tasks/task_book.h"
#include "controller/write_batch.h"

namespace autovibe {

struct TaskDispatchDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  Fleet* fleet = nullptr;
  Store* store = nullptr;
  TaskFollowers* followers = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  std::string subject_prefix = "av";
};

class TaskDispatch final : public TaskEffects {
 public:
  explicit TaskDispatch(TaskDispatchDeps deps) : d_(std::move(deps)) {}

  void Attach(TaskBook* tasks) { tasks_ = tasks; }
  // Tasks that start from a checkpoint get it onto their machine first; checkpoint events go
  // to its catalogue.
  void AttachCheckpoints(CheckpointService* checkpoints) { checkpoints_ = checkpoints; }
  // Where usage records from the agents' event stream go (the budget book), once per event id.
  void OnUsage(std::function<void(const v1::AgentEvent&)> on_usage) {
    on_usage_ = std::move(on_usage);
  }

  // Tells the task book what the fleet says about a machine (tools, labels, slots, state).
  void SyncMachine(const MachineRecord& m);
  // Queues one scheduling pass unless one is queued; a pass that places a full step queues
  // the next, so other work runs between steps.
  void RequestSchedule();
  // Creates the events stream if needed and starts consuming it (idempotent).
  void StartEventConsumer();
  void Stop();

  // TaskEffects
  void RunTask(const TaskRecord& t) override;
  void CancelTask(const std::string& machine_id, const std::string& task_id,
                  const std::string& reason, Duration delay) override;
  void PauseTask(const std::string& machine_id, const std::string& task_id,
                 const std::string& reason, Duration delay) override;
  void TaskChanged(const TaskRecord& t) override;
  void TaskLogged(const TaskRecord& t, const TaskLogChunk& chunk) override;
  void MachineBusy(const std::string& machine_id, bool busy) override;

 private:
  void SchedulePass();
  void AssignAnswered(const std::string& machine, const std::string& task, uint32_t attempt,
                      const Result<std::string>& raw);
  void OnAgentEvent(const BusMessage& m, const std::function<void()>& ack);
  // Marks the machine of an AgentStopping event lost; false when the event is stale.
  bool AgentStopped(const v1::AgentEvent& ev);
  std::string Subject(const std::string& kind) const { return d_.subject_prefix + "." + kind; }

  TaskDispatchDeps d_;
  void SendRunTask(const std::string& machine, const std::string& task, uint32_t attempt,
                   const std::string& data, Duration timeout);
  TaskBook* tasks_ = nullptr;
  CheckpointService* checkpoints_ = nullptr;
  std::function<void(const v1::AgentEvent&)> on_usage_;
  std::unique_ptr<Subscription> events_sub_;
  bool events_starting_ = false;
  bool schedule_queued_ = false;
  bool stopped_ = false;
};

}  // namespace autovibe
