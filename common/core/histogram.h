// Prometheus histograms with fixed buckets. Not thread-safe: the thread that observes renders.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

// Upper bounds (seconds) for latencies: half a millisecond to 5 s.
inline constexpr std::array<double, 13> kLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
// Upper bounds (seconds) for durations of work: 10 ms to 4 hours (checkpoints, restores,
// spawns, tasks).
inline constexpr std::array<double, 18> kDurationBounds = {
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400};

class Histogram {
 public:
  // `bounds`: ascending upper bounds, which must outlive the histogram (a static array).
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size(), 0) {}

  void Observe(double value);
  // Appends the `name`_bucket (cumulative, then le="+Inf"), `name`_sum and `name`_count
  // lines. `labels` are rendered already (`backend="local"`, escaped) and go first; "": none.
  void Render(std::string_view name, std::string_view labels, std::string& out) const;
  void Render(const std::string& name, std::string& out) const { Render(name, "", out); }

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::span<const double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Latencies (kLatencyBounds).
class LatencyHistogram : public Histogram {
 public:
  LatencyHistogram() : Histogram(kLatencyBounds) {}
};

// Durations of work (kDurationBounds).
class DurationHistogram : public Histogram {
 public:
  DurationHistogram() : Histogram(kDurationBounds) {}
};

}  // namespace autovibe
