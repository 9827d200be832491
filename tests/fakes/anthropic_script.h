// The fake Anthropic API's script: which answer a messages request gets. Pure functions of the
// request, so a client's retry gets the same answer.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fakes/anthropic_message.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

struct ScriptedAnswer {
  std::string kind;  // "tool_use", "final_text" or "side_text"
  AnthropicMessage message;
  std::string written_path;  // for "tool_use"
};

// The input tokens of a messages (or count_tokens) request: its model, system, tools,
// tool_choice, thinking and messages, estimated from their size (EstimateTokens). Both answers
// count the same, as the real API does.
int64_t PromptTokens(const boost::json::object& request);

// `request` is the parsed POST /v1/messages `body` with "model" and "messages"; the usage
// figures are its PromptTokens and estimated from the answer's size; `seq` makes ids
// unique. The script's usage override and the request's max_tokens are not applied here.
ScriptedAnswer AnswerMessages(const FakeAnthropicScript& script, const boost::json::object& request,
                              std::string_view body, uint64_t seq);

}  // namespace autovibe::testing
