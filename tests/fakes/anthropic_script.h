// The fake Anthropic API's script: which answer a messages request gets. Pure functions of the
// request, so a client's retry gets the same answer.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fakes/anthropic_message.h"
#include "tests/fakes/fake_anthropic.h"

namespace autovibe::testing {

struct ScriptedAnswer {
  std::string kind;  // "tool_use", "final_text" or "side_text"
  AnthropicMessage message;
  std::string written_path;  // for "tool_use"
};

// `request` is the parsed POST /v1/messages `body` with "model" and "messages"; the usage
// figures are estimated from the body's size; `seq` makes ids unique.
ScriptedAnswer AnswerMessages(const FakeAnthropicScript& script, const boost::json::object& request,
                              std::string_view body, uint64_t seq);

// Roughly four bytes a token, at least one.
int64_t EstimateTokens(size_t bytes);

}  // namespace autovibe::testing
