// What a tool's request to an LLM API asks for, read before it is forwarded: the model (and
// so the price), whether the answer streams, the most it may answer, and from that the
// worst-case cost the proxy reserves.
#pragma once

#include <cstdint>
#include <string>

#include "common/budget/amounts.h"
#include "common/core/result.h"
#include "worker-agent/meter/api.h"
#include "worker-agent/meter/prices.h"

namespace autovibe::meter {

struct CallPlan {
  Api api = Api::kMessages;
  std::string model;
  ModelPrice price;
  bool stream = false;
  // The request's max_tokens (Anthropic, chat), max_completion_tokens (chat) or
  // max_output_tokens (responses), else the model's max_output_tokens.
  int64_t max_output_tokens = 0;
  // The request body's size: a bound on its input tokens.
  int64_t input_bound = 0;
  Amounts worst;
  // What is forwarded: the tool's body, except that a streamed chat completion is made to
  // report its usage (stream_options.include_usage = true).
  std::string body;
};

// Reads the request. Fails with kBadRequest (the body is not a JSON object, "model" is
// not a string, a max-token figure is not a positive integer) or "unknown_model" (no price).
Result<CallPlan> PlanCall(Api api, std::string body, const PriceTable& prices);

// The most a call can cost: every input token at the dearer of the input and cache-write
// prices, plus every output token; its tokens; one API call.
Amounts WorstCase(const ModelPrice& price, int64_t input_bound, int64_t max_output_tokens);

}  // namespace autovibe::meter
