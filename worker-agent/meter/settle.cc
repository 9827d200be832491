#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

enum class Charge { kNothing, kUsageElseReservation, kUsageElseNothing };

void SetTokens(v1::UsageRecord& r, const TokenCounts& t) {
  r.set_input_tokens(t.input);
  r.set_output_tokens(t.output);
  r.set_cache_write_tokens(t.cache_write);
  r.set_cache_read_tokens(t.cache_read);
  r.set_cache_write_1h_tokens(t.cache_write_1h);
  r.set_web_search_requests(t.web_search_requests);
}

ModelPrice PriceOfAnswer(const CallPlan& plan, const SeenUsage& usage, const PriceTable& prices) {
  if (plan.unpriced || usage.model.empty()) return plan.price;
  auto answered = prices.Find(usage.model);
  return answered ? *answered : plan.price;
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
  r.set_unpriced(plan.unpriced);
  r.set_lowered_output(plan.lowered_output);

  Charge charge;
  if (how.http_status == 0 && !how.client_gone && !how.request_sent) {
    r.set_status("unreachable");
    charge = Charge::kNothing;
  } else if (how.client_gone) {
    r.set_status("client_gone");
    charge = how.http_status >= 400 ? Charge::kUsageElseNothing : Charge::kUsageElseReservation;
  } else if (how.http_status == 0) {
    // The provider had the request and may have served it (a long call past the proxy's
    // timeout, a server that failed after taking it): what it billed is unknown.
    r.set_status("no_answer");
    charge = Charge::kUsageElseReservation;
  } else if (how.http_status >= 400) {
    r.set_status("upstream_error");
    charge = Charge::kUsageElseNothing;
  } else if (!how.complete) {
    r.set_status("upstream_error");
    charge = Charge::kUsageElseReservation;
  } else {
    r.set_status(how.usage.final ? "ok" : "no_usage");
    charge = Charge::kUsageElseReservation;
  }
  if (charge == Charge::kNothing) return r;
  if (how.usage.final) {
    const TokenCounts& t = how.usage.tokens;
    ModelPrice price = PriceOfAnswer(plan, how.usage, prices);
    Tier tier = TierNamed(how.usage.service_tier);
    SetTokens(r, t);
    r.set_service_tier(how.usage.service_tier);
    r.set_long_context(price.long_context && t.prompt() > price.long_context->above_input_tokens);
    r.set_cost_micros(PriceTable::Cost(price, t, tier));
  } else if (charge == Charge::kUsageElseReservation) {
    SetTokens(r, plan.worst_tokens);
    r.set_cost_micros(plan.worst.usd_micros);
    r.set_estimated(true);
  }
  return r;
}

}  // namespace autovibe::meter
