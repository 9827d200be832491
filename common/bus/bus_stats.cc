#include "common/bus/bus_stats.h"

#include <spdlog/spdlog.h>

namespace autovibe {

void BusStats::Reject(std::string_view what, std::string_view reason, std::string_view subject,
                      size_t bytes) {
  uint64_t folded = 0;
  bool log = false;
  {
    std::lock_guard lock(mu_);
    ++rejected_[{std::string(what), std::string(reason)}];
    auto now = std::chrono::steady_clock::now();
    auto& [last, suppressed] = last_log_[std::string(what)];
    if (now - last >= std::chrono::seconds(1)) {
      log = true;
      folded = suppressed;
      suppressed = 0;
      last = now;
    } else {
      ++suppressed;
    }
  }
  if (log) {
    spdlog::warn("bus message rejected what={} reason={} subject={} bytes={} folded={}", what,
                 reason, subject, bytes, folded);
  }
}

BusStats::RejectedCounts BusStats::Rejected() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

uint64_t BusStats::RejectedTotal() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const auto& [k, v] : rejected_) total += v;
  return total;
}

}  // namespace autovibe
