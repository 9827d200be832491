// Machines joining and staying in the fleet, over the bus: registrations on <p>.register (and
// <p>.register.<m> for machines that know their id), heartbeats on <p>.hb.<m>, agents'
// stopping notices, and the liveness check that declares silent machines lost. It checks
// that a machine speaks only for itself, applies what it says to the fleet, tells the
// MachineListener what changed, and answers a registration once it is durable. Heartbeat
// figures are written in slices every two seconds.
//
// Owner-thread only; bus callbacks post here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/bus/bus.h"
#include "common/core/histogram.h"
#include "common/core/time.h"
#include "controller/fleet/fleet.h"
#include "controller/fleet/machine_listener.h"
#include "controller/machines/machine_manager.h"
#include "controller/model/agent_event.h"
#include "controller/store/write_batch.h"

namespace autovibe {

struct RegistrationDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  WriteBatch* batch = nullptr;
  Fleet* fleet = nullptr;
  const Clock* clock = nullptr;
  MachineManager* machines = nullptr;  // may be null (no provisioned machines)
  MachineListener* listener = nullptr;
  // Bus users are on: a registration on <p>.register.<m> is answered only on _INBOX_<m>.
  bool own_inboxes_only = false;
};

class Registration {
 public:
  explicit Registration(RegistrationDeps deps);
  ~Registration();

  // Subscribes to registrations and heartbeats and starts the liveness and flush timers.
  Result<void> Start();
  // No message or timer is handled after this returns; heartbeat figures not yet written
  // are written.
  void Stop();

  // Handle one message each (owner thread); public for tests.
  void OnRegister(const BusMessage& m);
  void OnHeartbeat(const BusMessage& m);
  // An agent said it is stopping (its events stream): its machine is lost at once.
  Result<void> AgentStopping(const AgentEvent& ev);
  // Declares machines whose heartbeat is overdue lost; the liveness timer calls it.
  void CheckLiveness();

  const LatencyHistogram& heartbeat_lag() const { return heartbeat_lag_; }

 private:
  // Why a registration on `subject` may not speak for the machine it names ("" when fine).
  std::string ImpersonationIn(const std::string& subject, const std::string& machine_id,
                              const std::string& name) const;
  void AskToRegister(const std::string& machine_id);
  void ScheduleLiveness();
  void ScheduleFlush();
  void FlushStep();

  RegistrationDeps d_;
  std::string prefix_;
  boost::asio::steady_timer liveness_timer_;
  boost::asio::steady_timer flush_timer_;
  std::vector<std::unique_ptr<Subscription>> subs_;
  LatencyHistogram heartbeat_lag_;
  std::unordered_map<std::string, int64_t> reregister_asked_;
  bool stopped_ = false;
};

}  // namespace autovibe
