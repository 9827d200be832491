#include "tests/bench/sim_fleet.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "autovibe/v1/machine.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "common/core/time.h"

namespace autovibe::bench {
namespace {

constexpr auto kRegisterTimeout = std::chrono::seconds(10);
constexpr int kRegisterAttempts = 3;
// The publisher sleeps at least this long between bursts: finer pacing would cost more CPU in
// the load generator than it buys in evenness (at 30k/s a burst is then ~6 heartbeats).
constexpr auto kMinPacingSleep = std::chrono::microseconds(200);

void FillResources(v1::Resources& r) {
  r.set_cpu_cores(2);
  r.set_mem_total_bytes(4ull << 30);
  r.set_mem_used_bytes(1ull << 30);
  r.set_disk_total_bytes(40ull << 30);
  r.set_disk_free_bytes(30ull << 30);
  r.set_load1(0.25);
}

}  // namespace

SimFleet::SimFleet(Bus& bus, std::string subject_prefix, size_t capacity, SimMachineSpec spec)
    : bus_(bus),
      prefix_(std::move(subject_prefix)),
      spec_(std::move(spec)),
      instance_prefix_(NewId("sim")),
      machine_ids_(capacity),
      subjects_(capacity) {}

SimFleet::~SimFleet() { StopHeartbeats(); }

Result<void> SimFleet::RegisterOne(size_t index) {
  v1::RegisterRequest req;
  req.set_name(fmt::format("sim-{:05d}", index + 1));
  req.set_agent_version("bench");
  req.set_backend("manual");
  (*req.mutable_labels())["bench"] = spec_.bench;
  for (const auto& tool : spec_.tools) req.add_tools(tool);
  req.set_task_slots(spec_.task_slots);
  // Stable across retries of this registration: a retry is the same agent process.
  req.set_instance_id(fmt::format("{}-{}", instance_prefix_, index));
  FillResources(*req.mutable_resources());
  const std::string data = req.SerializeAsString();
  Error last = MakeError(ErrorCode::kInternal, "no attempt made");
  for (int attempt = 0; attempt < kRegisterAttempts; ++attempt) {
    auto raw = bus_.Request(Subjects(prefix_).Register(), data, kRegisterTimeout);
    if (!raw) {
      last = raw.error();
      continue;
    }
    v1::RegisterReply reply;
    if (!reply.ParseFromString(*raw))
      return MakeError(ErrorCode::kInternal, "undecodable register reply");
    if (!reply.error().empty() || reply.machine_id().empty()) {
      return MakeError(ErrorCode::kUnavailable, req.name() + " refused: " + reply.error());
    }
    machine_ids_[index] = reply.machine_id();
    subjects_[index] = Subjects(prefix_).Heartbeat(reply.machine_id());
    interval_ms_.store(reply.heartbeat_interval_ms());
    return {};
  }
  return last;
}

Result<void> SimFleet::RegisterUpTo(size_t n, int threads) {
  n = std::min(n, machine_ids_.size());
  if (n <= registered_) return {};
  std::atomic<size_t> next{registered_};
  std::mutex mu;
  std::optional<Error> failure;
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(threads, 1); ++t) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) {
        if (auto r = RegisterOne(i); !r) {
          std::lock_guard<std::mutex> lock(mu);
          if (!failure) failure = r.error();
          next = n;  // stop the other workers early
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failure) return *failure;
  registered_ = n;
  return {};
}

void SimFleet::SetActive(size_t n) { active_.store(std::min(n, registered_)); }

void SimFleet::StartHeartbeats(Duration interval) {
  if (publisher_.joinable()) return;
  stop_ = false;
  publisher_ = std::thread([this, interval] { PublishLoop(interval); });
}

void SimFleet::StopHeartbeats() {
  stop_ = true;
  if (publisher_.joinable()) publisher_.join();
}

void SimFleet::PublishLoop(Duration interval) {
  using Clock = std::chrono::steady_clock;
  const int64_t interval_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count();
  std::vector<uint64_t> sequence(machine_ids_.size(), 0);
  v1::Heartbeat hb;
  FillResources(*hb.mutable_resources());
  std::string payload;
  size_t n = 0;
  size_t cursor = 0;  // the machine whose heartbeat is next
  int64_t sent = 0;   // heartbeats sent since `start`
  auto start = Clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    const size_t active = active_.load(std::memory_order_acquire);
    if (active != n) {
      // A new fleet size: restart the schedule. The cursor goes on, so machines that were
      // already heartbeating keep their place in the round.
      n = active;
      sent = 0;
      start = Clock::now();
      if (cursor >= n) cursor = 0;
    }
    const auto now = Clock::now();
    if (n > 0) {
      // Heartbeat k of the schedule is due at start + k * interval / n.
      const int64_t elapsed_ns = (now - start).count();
      const auto due = static_cast<int64_t>(static_cast<__int128>(elapsed_ns) * n / interval_ns);
      for (; sent < due && !stop_.load(std::memory_order_relaxed); ++sent) {
        hb.set_machine_id(machine_ids_[cursor]);
        hb.set_sequence(++sequence[cursor]);
        hb.set_sent_at_unix_ns(UnixNowNs());
        hb.SerializeToString(&payload);
        if (bus_.Publish(subjects_[cursor], payload)) {
          published_.fetch_add(1, std::memory_order_relaxed);
        } else {
          publish_errors_.fetch_add(1, std::memory_order_relaxed);
        }
        if (++cursor == n) cursor = 0;
      }
    }
    const auto next_due = n == 0 ? now + std::chrono::milliseconds(10)
                                 : start + std::chrono::nanoseconds(static_cast<int64_t>(
                                               static_cast<__int128>(sent + 1) * interval_ns / n));
    std::this_thread::sleep_until(std::max(next_due, Clock::now() + kMinPacingSleep));
  }
}

}  // namespace autovibe::bench
