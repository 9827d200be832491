#include "worker-agent/meter/proxy_stats.h"

namespace autovibe::meter {

void RenderMeterMetrics(const ProxyStats& proxy, const LeaseCounters& leases, size_t open_leases,
                        MetricsText& out) {
  out.Family("autovibe_agent_proxy_added_latency_seconds", "histogram",
             "What the metering proxy adds before a call reaches its provider: from the tool's "
             "request read to its forwarding (or the mock's answer).");
  out.Histogram("autovibe_agent_proxy_added_latency_seconds", {}, proxy.added_latency);
  out.Family("autovibe_agent_proxy_calls_total", "counter",
             "Calls through the metering proxy, by provider and status (the usage record's, or "
             "why the proxy refused the call).");
  for (const auto& [key, n] : proxy.calls) {
    out.Sample("autovibe_agent_proxy_calls_total",
               {{"provider", key.first}, {"status", key.second}}, n);
  }
  out.Family("autovibe_agent_lease_requests_total", "counter",
             "The controller's answers to this agent's lease requests, by outcome (granted; "
             "exhausted: a budget is used up; held: other calls hold what is left; refused; "
             "unreachable: no answer).");
  const std::pair<const char*, uint64_t> outcomes[] = {{"granted", leases.granted},
                                                       {"exhausted", leases.exhausted},
                                                       {"held", leases.held},
                                                       {"refused", leases.refused},
                                                       {"unreachable", leases.unreachable}};
  for (const auto& [outcome, n] : outcomes) {
    out.Sample("autovibe_agent_lease_requests_total", {{"outcome", outcome}}, n);
  }
  out.Family("autovibe_agent_leases_open", "gauge",
             "Budget leases this agent holds now (one per task attempt that spends).");
  out.Sample("autovibe_agent_leases_open", open_leases);
}

}  // namespace autovibe::meter
