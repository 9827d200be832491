// The agent process: registers this machine with the controller, heartbeats, answers commands
// and runs tasks (runner/task_manager.h), whose events reach the controller through the
// outbox (runner/event_outbox.h). All state lives on one owner thread (an io_context); bus
// callbacks post to it and blocking bus requests run on a one-thread pool that posts results
// back; the outbox publishes from its own thread.
#pragma once

#include <memory>

#include "common/core/result.h"
#include "worker-agent/agent_config.h"

namespace autovibe {

class Agent {
 public:
  virtual ~Agent() = default;
  // Runs until SIGTERM/SIGINT, a shutdown command, or Stop(). Returns the exit code.
  virtual int Run() = 0;
  // Thread-safe.
  virtual void Stop() = 0;
};

// Creates the data dir and connects to the bus (which may still be coming up).
Result<std::unique_ptr<Agent>> CreateAgent(const AgentConfig& config);

}  // namespace autovibe
