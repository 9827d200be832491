// The most an LLM call can cost, from what its request asks for and its model's price: what the
// proxy reserves from the task's budget before forwarding it. It must stay an upper bound in
// every case the provider can bill, premiums included; a request whose worst case cannot be
// bounded is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/budget/amounts.h"
#include "common/core/result.h"
#include "worker-agent/meter/api.h"
#include "worker-agent/meter/prices.h"

namespace autovibe::meter {

// What a request asks for that bears on its cost, as read from its body (request.h).
struct RequestFacts {
  Api api = Api::kMessages;
  std::string model;
  // The most input tokens the request itself holds: the body's size in bytes (no token is
  // shorter than a byte). The one figure a tighter bound may lower, e.g. from token counts the
  // provider already reported for the same prefix.
  int64_t input_bound = 0;
  // The request's own output limit (max_tokens, max_completion_tokens, max_output_tokens).
  std::optional<int64_t> max_output;
  int64_t choices = 1;  // OpenAI chat "n": each choice is a whole answer
  // "service_tier" as the request sets it ("" if not): Anthropic "auto" | "standard_only",
  // OpenAI "auto" | "default" | "flex" | "priority".
  std::string service_tier;
  // Tools the provider runs itself (Anthropic server tools): it then samples up to
  // kServerLoopIterations times in one call, each time reading the whole conversation so far.
  bool server_tools = false;
  int64_t web_searches = 0;    // the most web searches (the tools' max_uses)
  int64_t fetched_tokens = 0;  // the most web fetches can add (max_uses x max_content_tokens)
};

// Anthropic's server-side sampling loop stops after this many iterations (stop_reason
// "pause_turn").
inline constexpr int64_t kServerLoopIterations = 10;
// What the proxy assumes one web search's results add to the conversation, in tokens.
// Anthropic documents no cap; results are commonly a few thousand to ten thousand tokens.
inline constexpr int64_t kWebSearchResultTokens = 25'000;

struct Worst {
  Amounts amounts;  // usd (micro-dollars), tokens, one api call
  // The tokens behind it: every prompt token (counted once per iteration of a server-side
  // loop) as input, the answers' output, the searches; what a call charged its reservation is
  // recorded with.
  TokenCounts tokens;
};

// The most a call can cost: every prompt token at the dearest input rate (1-hour cache write)
// of any tier the request may be served at, long-context rates when the prompt may pass their
// threshold, every output token of every choice, and every search. Fails with kBadRequest,
// saying why, when no bound exists: no output limit in the request or in the price table.
Result<Worst> WorstCase(const RequestFacts& request, const ModelPrice& price);

}  // namespace autovibe::meter
