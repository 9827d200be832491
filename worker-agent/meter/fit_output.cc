#include "worker-agent/meter/fit_output.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace autovibe::meter {
namespace {

namespace json = boost::json;

int64_t OwnOutput(const CallPlan& plan) {
  return plan.request.max_output.value_or(plan.price.max_output_tokens);
}

// The body member that carries the output limit for the plan's API.
const char* LimitMember(const CallPlan& plan, const json::object& body) {
  switch (plan.api) {
    case Api::kMessages:
      return "max_tokens";
    case Api::kResponses:
      return "max_output_tokens";
    case Api::kChatCompletions:
      return body.contains("max_tokens") && !body.contains("max_completion_tokens")
                 ? "max_tokens"
                 : "max_completion_tokens";
  }
  return "max_tokens";
}

}  // namespace

int64_t LeastOutput(const CallPlan& plan, int64_t floor) {
  if (floor <= 0) return 0;
  const int64_t least = std::max(floor, plan.thinking_budget + 1);
  return least < OwnOutput(plan) ? least : 0;
}

Result<Worst> WorstWithOutput(const CallPlan& plan, int64_t output) {
  RequestFacts facts = plan.request;
  facts.max_output = output;
  return WorstCase(facts, plan.price);
}

int64_t FittingOutput(const CallPlan& plan, int64_t least, const Amounts& held) {
  auto fits = [&](int64_t output) {
    auto w = WorstWithOutput(plan, output);
    return w && w->amounts.FitsIn(held);
  };
  if (least <= 0 || !fits(least)) return 0;
  // The worst case grows with the output limit: the largest that fits, by bisection.
  int64_t lo = least, hi = OwnOutput(plan);
  if (fits(hi)) return hi;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

Result<void> LowerOutput(CallPlan& plan, int64_t output) {
  auto worst = WorstWithOutput(plan, output);
  if (!worst) return worst.error();
  boost::system::error_code ec;
  json::value doc = json::parse(plan.body, ec);
  if (ec || !doc.is_object()) {
    return MakeError(ErrorCode::kBadRequest, "the request body is not a JSON object");
  }
  json::object& body = doc.as_object();
  body[LimitMember(plan, body)] = output;
  plan.body = json::serialize(doc);
  plan.request.max_output = output;
  plan.worst = worst->amounts;
  plan.worst_tokens = worst->tokens;
  plan.lowered_output = output;
  return {};
}

}  // namespace autovibe::meter
