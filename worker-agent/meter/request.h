// What a tool's request to an LLM API asks for, read before it is forwarded: the model (and
// so the price), whether the answer streams, what bears on its cost (worst_case.h), and from
// that the worst-case cost the proxy reserves.
#pragma once

#include <cstdint>
#include <string>

#include "common/budget/amounts.h"
#include "common/core/result.h"
#include "worker-agent/meter/api.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/worst_case.h"

namespace autovibe::meter {

// How the proxy prices requests (the agent's [meter] settings).
struct PricingRules {
  // A model with no entry in the price table is let through and billed at the table's highest
  // prices (its records say unpriced), instead of being refused.
  bool allow_unpriced = false;
};

// An Anthropic web search tool without max_uses is sent with this many: the proxy can then
// bound its cost.
inline constexpr int64_t kDefaultWebSearchUses = 5;

struct CallPlan {
  Api api = Api::kMessages;
  std::string model;
  ModelPrice price;
  bool unpriced = false;  // the model has no entry: `price` is the table's highest
  bool stream = false;
  RequestFacts request;
  int64_t thinking_budget = 0;  // Anthropic extended thinking's budget_tokens (0: none)
  // The budget could not cover the request's own output limit: it is sent with this lower one
  // (fit_output.h). 0: sent as the tool asked.
  int64_t lowered_output = 0;
  Amounts worst;
  TokenCounts worst_tokens;
  // What is forwarded: the tool's body, except that a streamed chat completion is made to
  // report its usage (stream_options.include_usage = true) and a web search tool without
  // max_uses gets kDefaultWebSearchUses.
  std::string body;
};

// Reads the request. Fails with kBadRequest (the body is not a JSON object, "model" is not a
// string, a max-token figure, n or a tool's max_uses is not a positive integer, or the call's
// cost cannot be bounded: see WorstCase, and tools billed by what the proxy cannot see) or
// kUnknownModel (no price, and unpriced models are not allowed).
Result<CallPlan> PlanCall(Api api, std::string body, const PriceTable& prices,
                          const PricingRules& rules = {});

// Lowers the plan's input bound to `bound` (and its worst case with it) when that is tighter;
// the plan is kept as it is otherwise.
void BoundInput(CallPlan& plan, int64_t bound);

}  // namespace autovibe::meter
