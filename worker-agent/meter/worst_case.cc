#include "worker-agent/meter/worst_case.h"

#include <algorithm>
#include <initializer_list>
#include <limits>

namespace autovibe::meter {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t Add(int64_t a, int64_t b) { return a > kMax - b ? kMax : a + b; }
int64_t Mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  return a > kMax / b ? kMax : a * b;
}

// The tiers a request may be served at: the one it asks for, else (unset, "auto") standard or
// priority, which the organisation's or project's own settings may choose.
std::initializer_list<Tier> TiersOf(const RequestFacts& r) {
  static constexpr std::initializer_list<Tier> kStandard = {Tier::kStandard};
  static constexpr std::initializer_list<Tier> kPriority = {Tier::kPriority};
  static constexpr std::initializer_list<Tier> kFlex = {Tier::kFlex};
  static constexpr std::initializer_list<Tier> kEither = {Tier::kStandard, Tier::kPriority};
  const std::string& t = r.service_tier;
  if (r.api == Api::kMessages) return t == "standard_only" ? kStandard : kEither;
  if (t == "default") return kStandard;
  if (t == "flex") return kFlex;
  if (t == "priority") return kPriority;
  return kEither;
}

}  // namespace

Result<Worst> WorstCase(const RequestFacts& r, const ModelPrice& price) {
  int64_t output = r.max_output.value_or(price.max_output_tokens);
  if (output <= 0) {
    return MakeError(ErrorCode::kBadRequest,
                     "the cost of this call cannot be bounded: the request sets no output limit "
                     "(max_tokens) and prices.toml gives no max_output_tokens for model \"" +
                         r.model + "\"");
  }
  int64_t iterations = r.server_tools ? kServerLoopIterations : 1;
  // What one iteration reads: the request, what searches and fetches added, and (in a loop)
  // what the model wrote in the iterations before.
  int64_t context = Add(r.input_bound, Mul(r.web_searches, kWebSearchResultTokens));
  context = Add(context, r.fetched_tokens);
  if (r.server_tools) context = Add(context, output);

  Worst w;
  w.tokens.input = Mul(iterations, context);
  w.tokens.output = Mul(output, std::max<int64_t>(r.choices, 1));
  w.tokens.web_search_requests = r.web_searches;
  Rates rates;
  for (Tier tier : TiersOf(r)) rates = Dearest(rates, price.RatesFor(tier, w.tokens.input));
  Rates charged{.input = rates.dearest_input(), .output = rates.output};
  w.amounts.usd_micros = PriceTable::Cost(charged, price.web_search_per_1000, w.tokens);
  w.amounts.tokens = Add(w.tokens.input, w.tokens.output);
  w.amounts.api_calls = 1;
  return w;
}

}  // namespace autovibe::meter
