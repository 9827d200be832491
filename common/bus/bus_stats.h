// Counters of bus messages a process received and dropped. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace autovibe {

class BusStats {
 public:
  // (what, reason) -> count, e.g. ("heartbeat", "undecodable") -> 3.
  using RejectedCounts = std::map<std::pair<std::string, std::string>, uint64_t>;

  // Counts a dropped message and logs it: one line per message, but at most one per second
  // per kind, so a flood of garbage cannot flood the log (the line says how many were folded).
  void Reject(std::string_view what, std::string_view reason, std::string_view subject,
              size_t bytes);

  RejectedCounts Rejected() const;
  uint64_t RejectedTotal() const;

 private:
  mutable std::mutex mu_;
  RejectedCounts rejected_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, uint64_t>> last_log_;
};

}  // namespace autovibe
