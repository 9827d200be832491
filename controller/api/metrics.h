// Counters the controller exposes on GET /metrics. Owner-thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/core/histogram.h"

namespace autovibe {

struct ApiMetrics {
  // (route, status) -> requests
  std::map<std::pair<std::string, int>, uint64_t> requests;
  // route -> from the request read to its answer given (for a stream: its head)
  std::map<std::string, LatencyHistogram> latency;
};

}  // namespace autovibe
