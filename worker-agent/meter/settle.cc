#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

enum class Charge { kNothing, kUsage, kUsageElseReservation, kUsageElseNothing, kReservation };

void SetTokens(v1::UsageRecord& r, const TokenCounts& t) {
  r.set_input_tokens(t.input);
  r.set_output_tokens(t.output);
  r.set_cache_write_tokens(t.cache_write);
  r.set_cache_read_tokens(t.cache_read);
}

}  // namespace

v1::UsageRecord MakeUsageRecord(const CallPlan& plan, const Forwarded& how,
                                const PriceTable& prices, int64_t latency_us) {
  v1::UsageRecord r;
  r.set_kind("llm");
  r.set_provider(std::string(ProviderOf(plan.api)));
  r.set_model(how.usage.model.empty() ? plan.model : how.usage.model);
  r.set_route(std::string(RouteOf(plan.api)));
  r.set_latency_us(latency_us);
  r.set_http_status(how.http_status);

  Charge charge;
  if (how.http_status == 0 && !how.client_gone) {
    r.set_status("unreachable");
    charge = Charge::kNothing;
  } else if (how.client_gone) {
    r.set_status("client_gone");
    charge = Charge::kUsageElseReservation;
  } else if (how.http_status >= 400) {
    r.set_status("upstream_error");
    charge = Charge::kUsageElseNothing;
  } else if (!how.complete) {
    r.set_status("upstream_error");
    charge = Charge::kUsageElseReservation;
  } else if (how.usage.has_usage) {
    r.set_status("ok");
    charge = Charge::kUsage;
  } else {
    r.set_status("no_usage");
    charge = Charge::kReservation;
  }
  if (how.usage.has_usage && charge != Charge::kNothing && charge != Charge::kReservation) {
    ModelPrice price = plan.price;
    if (!how.usage.model.empty()) {
      if (auto answered = prices.Find(how.usage.model)) price = *answered;
    }
    SetTokens(r, how.usage.tokens);
    r.set_cost_micros(PriceTable::Cost(price, how.usage.tokens));
  } else if (charge == Charge::kReservation || charge == Charge::kUsageElseReservation) {
    SetTokens(r, TokenCounts{.input = plan.input_bound, .output = plan.max_output_tokens});
    r.set_cost_micros(plan.worst.usd_micros);
    r.set_estimated(true);
  }
  return r;
}

}  // namespace autovibe::meter
