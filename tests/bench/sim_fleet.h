// A simulated fleet for load tests: many machines registered over the bus from one process,
// each heartbeating once per interval, evenly spread over the interval.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe::bench {

// What every simulated machine says about itself when it registers.
struct SimMachineSpec {
  std::vector<std::string> tools;    // none: the machine can run no task
  uint32_t task_slots = 0;           // 0: the controller's default
  std::string bench = "heartbeats";  // the value of the `bench` label
};

class SimFleet {
 public:
  // Room for up to `capacity` machines named `sim-00001`, `sim-00002`, ...
  SimFleet(Bus& bus, std::string subject_prefix, size_t capacity, SimMachineSpec spec = {});
  ~SimFleet();
  SimFleet(const SimFleet&) = delete;
  SimFleet& operator=(const SimFleet&) = delete;

  // Registers machines until `n` are registered, `threads` requests in flight at a time.
  // Machines already registered are kept. Fails if any registration fails after retries.
  // Safe to call while heartbeats are being published for the machines registered before.
  Result<void> RegisterUpTo(size_t n, int threads);
  size_t registered() const { return registered_; }
  // The heartbeat interval the controller asked for in its last registration reply.
  Duration controller_interval() const { return std::chrono::milliseconds(interval_ms_.load()); }

  // Starts the paced publisher thread: every active machine sends one Heartbeat per
  // `interval`, the sends spread evenly (subject `<prefix>.hb.<machine id>`, sent_at = now).
  void StartHeartbeats(Duration interval);
  // Sets how many of the registered machines heartbeat (at most registered()).
  void SetActive(size_t n);
  void StopHeartbeats();

  uint64_t published() const { return published_.load(std::memory_order_relaxed); }
  uint64_t publish_errors() const { return publish_errors_.load(std::memory_order_relaxed); }

 private:
  Result<void> RegisterOne(size_t index);
  void PublishLoop(Duration interval);

  Bus& bus_;
  std::string prefix_;
  SimMachineSpec spec_;
  std::string instance_prefix_;  // one per SimFleet: instance ids are `<prefix>-<index>`
  // Slot i belongs to machine i. A slot is written once, before SetActive() makes it
  // visible to the publisher thread (release/acquire on active_).
  std::vector<std::string> machine_ids_;
  std::vector<std::string> subjects_;
  size_t registered_ = 0;
  std::atomic<uint32_t> interval_ms_{0};
  std::atomic<size_t> active_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> publish_errors_{0};
  std::thread publisher_;
};

}  // namespace autovibe::bench
