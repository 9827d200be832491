// Task orders to agents over the bus (TaskCommands of the task book): RunTask as a request on
// <prefix>.cmd.<m> whose answer comes back to the book (never blocking the owner thread);
// cancel and pause as fire-and-forget commands, repeated by the heartbeat when lost. Every
// order leaves only after the decision behind it is durable (WriteBatch::AfterCommit). A task
// that starts from a checkpoint has it brought onto its machine first.
// Owner-thread only; bus answers are posted back to it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <optional>
#include <string>

#include "common/bus/bus.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/store/write_batch.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

struct TaskCommandsDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  CheckpointService* checkpoints = nullptr;  // starting points of tasks; may be null
  std::string subject_prefix = "av";
  // The value of a secret (a repository's credential) by name; nullopt when there is none.
  // Null: no secrets.
  std::function<std::optional<std::string>(const std::string& name)> secret;
};

class NatsTaskCommands final : public TaskCommands {
 public:
  explicit NatsTaskCommands(TaskCommandsDeps deps) : d_(std::move(deps)) {}

  // No answer is delivered after this.
  void Stop() { stopped_ = true; }

  // TaskCommands
  void RunTask(const TaskRecord& t, std::function<void(AssignAnswer)> done) override;
  void CancelTask(const std::string& machine_id, const std::string& task_id,
                  const std::string& reason, Duration delay) override;
  void PauseTask(const std::string& machine_id, const std::string& task_id,
                 const std::string& reason, Duration delay) override;

 private:
  void Send(const std::string& machine, const std::string& data, Duration timeout,
            std::function<void(AssignAnswer)> done);
  void Publish(const std::string& machine, std::string data, std::string_view what);

  TaskCommandsDeps d_;
  bool stopped_ = false;
};

}  // namespace autovibe
