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

// `request` is the parsed POST /v1/messages `body` with "model" and "messages"; the usage
// figures are estimated from the body's size (EstimateTokens) and the answer's; `seq` makes ids
// unique. The script's usage override and the request's max_tokens are not applied here.
ScriptedAnswer AnswerMessages(const FakeAnthropicScript& script, const boost::json::object& request,
                              std::string_view body, uint64_t seq);

}  // namespace autovibe::testing
