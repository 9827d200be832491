// A Prometheus histogram of latencies with fixed buckets (seconds). Not thread-safe: the
// thread that observes renders.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace autovibe {

// A Prometheus histogram with fixed buckets (seconds).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 13> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  void Observe(double seconds);
  // Appends the histogram's lines for metric `name`.
  void Render(const std::string& name, std::string& out) const;

 private:
  std::array<uint64_t, kBounds.size()> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace autovibe
