// Reading counters and histograms out of Prometheus text exposition (format 0.0.4).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::bench {

// The value of one series, e.g. `autovibe_heartbeats_received_total` or
// `autovibe_machines{state="lost"}`, written exactly as in the text.
std::optional<double> PromValue(std::string_view text, std::string_view series);

// A histogram's cumulative buckets, ascending by upper bound; the last bound is +Inf.
struct PromHistogram {
  std::vector<double> upper_bounds;
  std::vector<double> cumulative;

  double count() const { return cumulative.empty() ? 0 : cumulative.back(); }
};

// The `<name>_bucket{le="..."}` series of histogram `name`; empty if absent.
PromHistogram PromHistogramOf(std::string_view text, std::string_view name);

// Observations made between `before` and `after` (same buckets), as a histogram.
PromHistogram HistogramDelta(const PromHistogram& before, const PromHistogram& after);

// The q-quantile (0 < q < 1) interpolated linearly inside its bucket, like PromQL's
// histogram_quantile(): the first bucket starts at 0, and a quantile that falls in the +Inf
// bucket is reported as the largest finite bound. NaN when the histogram is empty.
double HistogramQuantile(const PromHistogram& h, double q);

}  // namespace autovibe::bench
