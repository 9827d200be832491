// Who may say what on the bus (DESIGN.md, "Bus protocol"): a machine speaks only for the task
// attempts placed on it, spends only under the leases it holds, and dates its checkpoints no
// later than the controller's clock allows. The sending machine is the one the subject names
// (NATS permissions let a machine publish only on its own subjects); a machine id, project or
// task in a payload is never taken as proof of anything.
//
// Asked by the events intake and the lease service before anything is applied; a refusal is
// counted there (Refusals) and changes nothing. Owner-thread only: it reads the task and
// budget books.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/core/duration.h"
#include "common/core/time.h"
#include "controller/budgets/budget_book.h"
#include "controller/model/agent_event.h"
#include "controller/model/lease.h"
#include "controller/model/refusals.h"

namespace autovibe {

struct SenderRulesDeps {
  const TaskLookup* tasks = nullptr;   // where each task's current attempt runs or ran
  const BudgetBook* leases = nullptr;  // the leases machines hold
  const Clock* clock = nullptr;
};

class SenderRules {
 public:
  // How far ahead of the controller's clock a checkpoint may be dated: clocks drift, but a
  // checkpoint from the future is a forgery or a clock to fix.
  static constexpr Duration kMaxClockAhead = std::chrono::minutes(5);

  explicit SenderRules(SenderRulesDeps deps) : d_(deps) {}

  // Whether `machine_id` may say what the event says; nothing when it may. Task events and
  // checkpoints: for the task attempt placed on that machine (running, or just ended there);
  // usage: under a lease that machine holds for the record's task attempt. Other kinds speak
  // for the machine alone and pass.
  std::optional<Refusal> Check(const std::string& machine_id, const AgentEvent& e) const;
  // A lease request: a lease the machine holds for that task attempt, or (a new lease) for
  // the task's current attempt, placed on that machine, of the project it names.
  std::optional<Refusal> CheckLease(const std::string& machine_id, const LeaseRequest& r) const;

 private:
  // The task's current attempt (`attempt`; nullopt: whichever it is) is placed on the machine.
  std::optional<Refusal> CheckAttempt(const std::string& machine_id, std::string_view task_id,
                                      std::optional<uint32_t> attempt) const;
  std::optional<Refusal> CheckUsage(const std::string& machine_id, const UsageReport& r) const;
  std::optional<Refusal> CheckCheckpoint(const std::string& machine_id,
                                         const CheckpointCreatedEvent& ev) const;

  SenderRulesDeps d_;
};

}  // namespace autovibe
