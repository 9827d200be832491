// The agent's own GET /metrics (Prometheus text), off unless `metrics_listen` is set: the
// metering proxy's added latency and calls, lease answers, checkpoint times, the outbox.
//
// What it shows is counts and timings only: no token, no prompt, no key, no task id. It is
// read-only (GET /metrics; anything else 404 or 405) and listens on a loopback address unless
// `metrics_allow_remote` says otherwise; a task boxed with network "proxy-only" cannot reach
// it at all. Its connections are capped low, so nothing on the machine can exhaust the
// agent's descriptors through it.
//
// Runs on the agent's owner thread; the meter's part is rendered on the meter's thread and
// handed back (MeterService::RenderMetrics).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/metrics_text.h"
#include "common/core/result.h"
#include "worker-agent/checkpoint_keeper.h"
#include "worker-agent/meter/meter_service.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/task_manager.h"

namespace autovibe {

// Whose figures the page shows; all outlive the server. Owner-thread parts are read there.
struct AgentMetricsSources {
  const std::string* name = nullptr;        // the machine's name
  const std::string* machine_id = nullptr;  // "" until the controller gave one
  const EventOutbox* outbox = nullptr;      // thread-safe
  const CheckpointKeeper* checkpoints = nullptr;
  const TaskManager* tasks = nullptr;
  meter::MeterService* meter = nullptr;  // thread-safe
};

// "" (off), or HOST:PORT with HOST an IP address, on loopback (127.0.0.0/8, ::1) unless
// `allow_remote`. Errors (bad_config) say what to write instead.
Result<void> CheckMetricsListen(const std::string& listen, bool allow_remote);

// The owner thread's families (agent_metrics.cc): the agent, its tasks, outbox, checkpoints.
void RenderAgentMetrics(const AgentMetricsSources& s, MetricsText& out);

class AgentMetricsServer {
 public:
  virtual ~AgentMetricsServer() = default;
  virtual uint16_t port() const = 0;
  // "http://127.0.0.1:PORT/metrics".
  virtual std::string url() const = 0;
  // Stops accepting; open connections end after their answer.
  virtual void Stop() = 0;
};

// Binds `listen` (checked by CheckMetricsListen first) on `ioc`. Errors: bad_config,
// unavailable (the address cannot be bound).
Result<std::unique_ptr<AgentMetricsServer>> StartAgentMetrics(boost::asio::io_context& ioc,
                                                              const std::string& listen,
                                                              bool allow_remote,
                                                              AgentMetricsSources sources);

}  // namespace autovibe
