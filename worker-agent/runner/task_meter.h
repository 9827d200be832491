// The metering proxy as the task runner sees it (DESIGN.md, "What a task's tool sees"): where a
// tool's LLM calls go, and the per-task token they must carry. Implemented by the agent's
// meter (worker-agent/meter/meter_service.h); tests bring their own.
#pragma once

#include <unistd.h>

#include <optional>
#include <string>

#include "autovibe/v1/command.pb.h"

namespace autovibe {

// Who may use a task's token (README.md, "Security: what a task can and cannot reach").
struct TokenBinding {
  std::optional<uid_t> uid;   // a boxed task's user; nullopt: anyone (task_user = "root")
  bool own_listener = false;  // proxy-only: honoured only on the listener of TaskListener
};

class TaskMeter {
 public:
  virtual ~TaskMeter() = default;
  // "http://127.0.0.1:PORT", the proxy's address.
  virtual std::string url() const = 0;
  // A task's tool is about to start with `token` as its API key: calls carrying it are metered
  // and budgeted as this task's from now on, when they come from where `binding` says.
  // Thread-safe.
  virtual void TaskStarted(const v1::RunTask& task, const std::string& token,
                           const TokenBinding& binding) = 0;
  // The tool is gone: its token is refused from now on. Thread-safe.
  virtual void TaskEnded(const std::string& task_id) = 0;
  // A proxy-only task's network namespace holds only this socket, listening on the proxy's
  // port: serve it as the task's proxy until TaskEnded. Takes the descriptor. Thread-safe.
  virtual void TaskListener(const std::string& task_id, int listening_fd) { close(listening_fd); }
};

}  // namespace autovibe
