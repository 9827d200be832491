// The agent's side of budget leases (DESIGN.md, "Budgets"): one lease per running task, held
// ahead in chunks so most calls need no trip to the controller. A call reserves its worst case
// from the lease before it is forwarded and settles its real cost after; the task's tool and
// machine time are charged to the lease as they pass. When the lease runs low the book asks the
// controller for a top-up over <prefix>.lease.<m>; a top-up the budget cannot cover fails the
// waiting calls and reports the task as exhausted, and a lease that expires without renewal
// (the controller is unreachable) holds nothing more: spending stops at what it held.
//
// Runs on the meter's io_context; every method, and every callback it makes, is for that
// thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "autovibe/v1/budget.pb.h"
#include "common/budget/amounts.h"
#include "common/core/duration.h"
#include "worker-agent/meter/call_ledger.h"
#include "worker-agent/meter/proxy_stats.h"

namespace autovibe::meter {

// Where lease requests go: the controller, over the bus (or a fake in tests).
class LeaseChannel {
 public:
  virtual ~LeaseChannel() = default;
  // Sends one request; `done` runs on the meter's thread with the reply or an error.
  virtual void Ask(const v1::LeaseRequest& request,
                   std::function<void(Result<v1::LeaseReply>)> done) = 0;
};

// Where usage records go: the agent's event outbox (or a list in tests). Thread-safe.
class UsageSink {
 public:
  virtual ~UsageSink() = default;
  virtual void Record(v1::UsageRecord record) = 0;
  // A call's worst case was reserved: `estimate` is the record that charges it in full, and
  // `id` the event id the call's own record will carry (Settled). Written down before the call
  // is forwarded, so that should the agent die first, the estimate goes out after its restart.
  virtual void Reserved(const std::string& /*id*/, const v1::UsageRecord& /*estimate*/) {}
  // The call of reservation `id` ended: its record.
  virtual void Settled(const std::string& /*id*/, v1::UsageRecord record) {
    Record(std::move(record));
  }
};

struct LeaseBookOptions {
  // Asked for beyond what is needed now, so the next calls find the lease full enough: at
  // least this much, and more for a busy task (see chunk_horizon).
  Amounts chunk{.usd_micros = 50'000,  // $0.05
                .tokens = 100'000,
                .api_calls = 100,
                .task_ms = 60'000,
                .machine_ms = 60'000};
  // A busy task is asked for what it spent over this long at its recent rate, or what its
  // calls in flight hold, when that is more than `chunk`: at a thousand calls a second it asks
  // the controller a few times a second, not ten times. The controller never grants past the
  // budget, so a larger ask only holds more of what is left ahead for this task.
  Duration chunk_horizon = std::chrono::seconds(1);
  // Tool and machine time are charged this often, and a time record is sent at least this
  // often while a task runs (and when it ends).
  Duration time_tick = std::chrono::seconds(1);
  Duration time_record_every = std::chrono::seconds(15);
  // A lease that is not renewed by then holds nothing; the controller says how long in each
  // reply, this is for before the first.
  Duration default_ttl = std::chrono::seconds(30);
  // Closing a lease is retried this often until the controller answers.
  Duration close_retry = std::chrono::seconds(2);
};

// A task whose budget (or its own max_usd) cannot cover its next call: what the controller
// said, and whether the task pauses or stops.
struct TaskOutOfBudget {
  std::string task_id;
  uint32_t attempt = 0;
  std::string message;  // "budget usd (total) of project demo is exhausted: ..."
  bool pause = true;    // false: stop (cancel) the task
};

class LeaseBook final : public CallLedger {
 public:
  using OnExhausted = std::function<void(const TaskOutOfBudget&)>;

  // `channel` and `sink` must outlive the book.
  LeaseBook(boost::asio::io_context& ioc, LeaseChannel& channel, UsageSink& sink,
            LeaseBookOptions options, OnExhausted on_exhausted);
  ~LeaseBook() override;
  LeaseBook(const LeaseBook&) = delete;
  LeaseBook& operator=(const LeaseBook&) = delete;

  // A task's tool starts: its calls carry `token`. A lease is opened at the first need.
  void TaskStarted(const MeteredTask& task, const std::string& token);
  // The task's tool ended: its token is refused from now on, its time is charged, and its
  // lease is closed once the calls still in flight have settled.
  void TaskEnded(const std::string& task_id);

  size_t tasks() const { return tasks_.size(); }
  // What the task's lease holds now (tests, diagnostics); zero for an unknown task.
  Amounts Granted(const std::string& task_id) const;
  Amounts Consumed(const std::string& task_id) const;
  // The controller's answers so far, and the leases open now (for /metrics).
  const LeaseCounters& counters() const { return counters_; }
  size_t open_leases() const { return leases_.size(); }

  // CallLedger
  std::optional<MeteredTask> TaskForToken(std::string_view token) override;
  void Reserve(const MeteredTask& task, const ReserveAsk& ask,
               std::function<void(Result<Reservation>)> done) override;
  void Settle(uint64_t reservation, v1::UsageRecord record) override;

 private:
  struct Waiter {
    ReserveAsk ask;
    uint64_t covered_by = 0;  // the lease request that asks for it (TaskLease::asks_sent)
    std::function<void(Result<Reservation>)> done;
  };
  struct TaskLease;

  TaskLease* Find(const std::string& task_id);
  bool Live(const TaskLease& t) const;
  // What the lease can still give: granted less consumed, held and queued; zero once expired.
  Amounts Available(const TaskLease& t) const;
  uint64_t Hold(TaskLease& t, const Amounts& worst);
  // Serves queued calls in order while the lease covers them; asks for more when it cannot.
  void ServeWaiters(TaskLease& t);
  void Ask(TaskLease& t, bool close);
  // What to ask for beyond the need: the chunk, grown with the task's pace.
  Amounts Extra(TaskLease& t);
  void OnReply(const std::string& lease_id, bool close, uint64_t seq,
               const Result<v1::LeaseReply>& reply);
  void Count(const Result<v1::LeaseReply>& reply);
  void FailWaiters(TaskLease& t, const Error& error);
  void ChargeTime(TaskLease& t, bool final);
  void SendTimeRecord(TaskLease& t);
  void MaybeClose(TaskLease& t);
  void Forget(const std::string& lease_id);
  void ScheduleTick();
  void Tick();

  boost::asio::io_context& ioc_;
  LeaseChannel& channel_;
  UsageSink& sink_;
  const LeaseBookOptions options_;
  OnExhausted on_exhausted_;
  boost::asio::steady_timer tick_timer_;
  // By lease id; a task's lease lives on after its tool ended, until it is closed.
  std::map<std::string, std::unique_ptr<TaskLease>> leases_;
  std::unordered_map<std::string, TaskLease*> tasks_;   // running tasks by task id
  std::unordered_map<std::string, TaskLease*> tokens_;  // running tasks by proxy token
  struct Held {
    std::string lease_id;
    Amounts amounts;
    std::string id;  // the event id of the call's record (v1::Reservation)
  };
  std::unordered_map<uint64_t, Held> held_;
  uint64_t next_reservation_ = 1;
  LeaseCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe::meter
