// The working side of simulated agents for scheduler load tests: one wildcard subscription on
// `<prefix>.cmd.*` answers the commands of every simulated machine (the subject's last token is
// the machine id). A RunTask is acknowledged at once (CommandReply ok) and the task "finishes
// at once": a pool of publisher threads reports TaskFinished (succeeded, exit 0) for the same
// attempt on the events stream (`<prefix>.evt.<machine id>`, JetStream message id = event id).
// Registration and heartbeats are SimFleet's job.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/bus/bus.h"
#include "common/core/result.h"

namespace autovibe::bench {

class SimWorkers {
 public:
  using Clock = std::chrono::steady_clock;

  // A RunTask as it reached a simulated machine.
  struct Arrival {
    std::string task_id;
    Clock::time_point at;
  };

  // `publishers`: threads publishing TaskFinished events, each waiting for JetStream's ack
  // (so this many events are in flight at most).
  SimWorkers(Bus& bus, std::string subject_prefix, int publishers);
  ~SimWorkers();
  SimWorkers(const SimWorkers&) = delete;
  SimWorkers& operator=(const SimWorkers&) = delete;

  // Makes sure the events stream exists (same settings as the controller's), subscribes to
  // the command subjects and starts the publishers.
  Result<void> Start();
  // Unsubscribes and stops the publishers (events not yet published are dropped).
  void Stop();

  // RunTask arrivals since the last ClearArrivals(), in arrival order.
  std::vector<Arrival> Arrivals() const;
  // Where a slot's time goes, in ms, one value per task since the last ClearArrivals():
  // from a RunTask reaching its machine until JetStream acknowledged its TaskFinished event
  // (this process and nats-server), and from that acknowledgement until the next RunTask
  // reached the same machine (the controller consuming the event, freeing the slot, placing
  // and sending the next task).
  std::vector<double> SimSideMs() const;
  std::vector<double> TurnaroundMs() const;
  // Forgets arrivals and timings (not the per-machine state).
  void ClearArrivals();
  uint64_t run_tasks() const { return run_tasks_.load(std::memory_order_relaxed); }
  uint64_t finished() const { return finished_.load(std::memory_order_relaxed); }

  // Sanity counters: a second RunTask for an attempt this machine already got, a RunTask for
  // a machine whose one slot is still taken (its previous task's finish not yet published),
  // cancels, other commands, failed replies and event publishes (retried).
  uint64_t duplicate_runs() const { return duplicate_runs_.load(); }
  uint64_t overlaps() const { return overlaps_.load(); }
  uint64_t cancels() const { return cancels_.load(); }
  uint64_t other_commands() const { return other_commands_.load(); }
  uint64_t reply_errors() const { return reply_errors_.load(); }
  uint64_t publish_retries() const { return publish_retries_.load(); }
  uint64_t publish_failures() const { return publish_failures_.load(); }
  // Time spent inside the command handler (one NATS.c delivery thread for every simulated
  // machine), in seconds: compared with wall time it tells whether this process is what
  // makes the controller's requests slow.
  double handler_busy_s() const { return static_cast<double>(handler_busy_ns_.load()) / 1e9; }

 private:
  struct Finish {
    std::string machine_id;
    std::string task_id;
    uint32_t attempt = 0;
    Clock::time_point arrived;
  };
  void OnCommand(const BusMessage& m);
  void PublishLoop();

  Bus& bus_;
  std::string prefix_;
  int publisher_count_;
  std::unique_ptr<Subscription> sub_;

  mutable std::mutex mu_;  // arrivals_, timings, seen_, busy_, last_ack_
  std::vector<Arrival> arrivals_;
  std::vector<double> sim_side_ms_;
  std::vector<double> turnaround_ms_;
  std::unordered_map<std::string, Clock::time_point> last_ack_;  // machine id -> event acked
  std::unordered_set<std::string> seen_;       // "<task id>#<attempt>@<machine id>"
  std::unordered_map<std::string, int> busy_;  // machine id -> tasks not yet finished

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Finish> queue_;
  bool stop_ = false;
  std::vector<std::thread> publishers_;

  std::atomic<uint64_t> run_tasks_{0};
  std::atomic<uint64_t> finished_{0};
  std::atomic<uint64_t> duplicate_runs_{0};
  std::atomic<uint64_t> overlaps_{0};
  std::atomic<uint64_t> cancels_{0};
  std::atomic<uint64_t> other_commands_{0};
  std::atomic<uint64_t> reply_errors_{0};
  std::atomic<uint64_t> publish_retries_{0};
  std::atomic<uint64_t> publish_failures_{0};
  std::atomic<int64_t> handler_busy_ns_{0};
};

}  // namespace autovibe::bench
