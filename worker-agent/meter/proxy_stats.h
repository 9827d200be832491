// What the metering proxy and the lease book did since the agent started, for the agent's
// /metrics (meter_metrics.cc). Meter thread only, like the proxy and the book.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "common/core/histogram.h"
#include "common/core/metrics_text.h"

namespace autovibe::meter {

struct ProxyStats {
  // From a call's request read to its forwarding upstream (or the mock's answer): what the
  // proxy adds before the provider sees the call (token, pricing, reservation, lease top-up).
  LatencyHistogram added_latency;
  // (provider, status) -> calls. Status: the usage record's (ok, no_usage, upstream_error,
  // no_answer, client_gone, unreachable), or why the proxy refused the call (unauthorized,
  // bad_request, unknown_model, rate_limited, budget_exhausted, unavailable, no_upstream).
  std::map<std::pair<std::string, std::string>, uint64_t> calls;

  void Call(std::string_view provider, std::string_view status) {
    ++calls[{std::string(provider), std::string(status)}];
  }
};

// Answers of the controller to lease requests (grants and top-ups, not closes).
struct LeaseCounters {
  uint64_t granted = 0;
  uint64_t exhausted = 0;    // refused: a budget is used up
  uint64_t held = 0;         // refused for now: other running calls hold what is left
  uint64_t refused = 0;      // the controller answered with an error
  uint64_t unreachable = 0;  // no answer
};

// The meter's families: the proxy's added latency and calls, lease answers, open leases.
void RenderMeterMetrics(const ProxyStats& proxy, const LeaseCounters& leases, size_t open_leases,
                        MetricsText& out);

}  // namespace autovibe::meter
