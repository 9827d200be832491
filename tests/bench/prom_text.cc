#include "tests/bench/prom_text.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace autovibe::bench {
namespace {

// Calls `line_fn(line)` for every non-comment line.
template <class Fn>
void ForEachSample(std::string_view text, Fn&& line_fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.front() != '#') line_fn(line);
  }
}

double ParseDouble(std::string_view s) {
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  return std::stod(std::string(s));
}

}  // namespace

std::optional<double> PromValue(std::string_view text, std::string_view series) {
  std::optional<double> out;
  ForEachSample(text, [&](std::string_view line) {
    if (out || !line.starts_with(series) || line.size() <= series.size() + 1 ||
        line[series.size()] != ' ') {
      return;
    }
    out = ParseDouble(line.substr(series.size() + 1));
  });
  return out;
}

PromHistogram PromHistogramOf(std::string_view text, std::string_view name) {
  const std::string prefix = std::string(name) + "_bucket{le=\"";
  std::vector<std::pair<double, double>> buckets;
  ForEachSample(text, [&](std::string_view line) {
    if (!line.starts_with(prefix)) return;
    std::string_view rest = line.substr(prefix.size());
    const size_t quote = rest.find("\"}");
    if (quote == std::string_view::npos || quote + 3 > rest.size()) return;
    buckets.emplace_back(ParseDouble(rest.substr(0, quote)), ParseDouble(rest.substr(quote + 3)));
  });
  std::sort(buckets.begin(), buckets.end());
  PromHistogram h;
  for (const auto& [le, n] : buckets) {
    h.upper_bounds.push_back(le);
    h.cumulative.push_back(n);
  }
  return h;
}

PromHistogram HistogramDelta(const PromHistogram& before, const PromHistogram& after) {
  PromHistogram d = after;
  if (before.upper_bounds != after.upper_bounds) return d;  // counter reset: use `after` as is
  for (size_t i = 0; i < d.cumulative.size(); ++i) d.cumulative[i] -= before.cumulative[i];
  return d;
}

double HistogramQuantile(const PromHistogram& h, double q) {
  const double total = h.count();
  if (total <= 0 || h.upper_bounds.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * total;
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    if (h.cumulative[i] < rank) continue;
    const double upper = h.upper_bounds[i];
    const double lower = i == 0 ? 0.0 : h.upper_bounds[i - 1];
    if (std::isinf(upper)) return lower;  // beyond the largest bound: report that bound
    const double below = i == 0 ? 0.0 : h.cumulative[i - 1];
    const double in_bucket = h.cumulative[i] - below;
    if (in_bucket <= 0) return upper;
    return lower + (upper - lower) * (rank - below) / in_bucket;
  }
  return h.upper_bounds.size() >= 2 ? h.upper_bounds[h.upper_bounds.size() - 2]
                                    : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace autovibe::bench
