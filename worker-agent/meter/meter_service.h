// The agent's meter: a thread of its own that runs the metering proxy and the lease book, so
// tools' LLM calls never wait behind the agent's other work. Lease requests go to the
// controller over <prefix>.lease.<m>; usage records leave through the agent's event outbox.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "worker-agent/meter/lease_book.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/proxy.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/task_meter.h"

namespace autovibe::meter {

struct MeterServiceOptions {
  ProxyOptions proxy;
  LeaseBookOptions leases;
  std::string subject_prefix = "av";
  Duration lease_timeout = std::chrono::seconds(2);
  // Runs on the meter thread, a moment after calls are answered, with their tasks (the agent
  // checkpoints workspaces after LLM responses). Hand it over to the agent's own thread.
  std::function<void(std::vector<std::string> task_ids)> on_responses;
};

class MeterService final : public TaskMeter {
 public:
  // Binds the proxy and starts the meter thread. `bus`, `outbox` and `prices` must outlive the
  // service. `on_exhausted` runs on the meter thread: hand it over to the agent's own.
  static Result<std::unique_ptr<MeterService>> Start(Bus& bus, EventOutbox& outbox,
                                                     const PriceTable& prices,
                                                     MeterServiceOptions options,
                                                     LeaseBook::OnExhausted on_exhausted);
  // Stops the proxy and the thread; calls in flight are cut off.
  ~MeterService() override;

  // The machine whose lease subject is used. Thread-safe.
  void SetMachineId(const std::string& machine_id);

  // Wakes the outbox for the usage records written to it since it was last woken (see
  // OutboxUsageSink), and returns once it is: before the outbox is flushed at stop.
  // Thread-safe.
  void HandOverUsage();

  // Renders the meter's metrics (meter_metrics.cc) on the meter's thread and gives them to
  // `done` there: hand them over to the caller's own thread. Thread-safe.
  void RenderMetrics(std::function<void(std::string)> done);

  // TaskMeter (thread-safe)
  std::string url() const override { return url_; }
  void TaskStarted(const v1::RunTask& task, const std::string& token,
                   const TokenBinding& binding) override;
  void TaskEnded(const std::string& task_id) override;
  void TaskListener(const std::string& task_id, int listening_fd) override;

 private:
  struct Impl;
  explicit MeterService(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  std::string url_;
};

}  // namespace autovibe::meter
