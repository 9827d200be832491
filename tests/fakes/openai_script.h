// The fake OpenAI API's script for a coding agent on the Responses API (Codex): which answer a
// responses request gets. A pure function of the request, so a client's retry gets the same.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "tests/fakes/fake_openai.h"
#include "tests/fakes/openai_message.h"

namespace autovibe::testing {

struct OpenAIScripted {
  std::string kind;  // "tool_call", "final_text", or "" (not scripted: the plain answer)
  std::optional<OpenAIFunctionCall> call;
  std::string written_path;  // for "tool_call": the file the command writes
};

// `request` is a parsed POST /v1/responses body. With options.write_file set, a request that
// offers a shell tool (Codex's "exec_command" {cmd}, "shell_command" {command} or "shell"
// {command: [argv]}) is answered with one call of it whose command writes options.content to
// that file (joined to the working directory the agent states, `<cwd>...</cwd>`, when relative),
// then runs options.then_run; a request whose input hands back a tool's output (a
// function_call_output item) is answered with the final text.
OpenAIScripted ScriptResponses(const FakeOpenAIOptions& options, const boost::json::object& request,
                               uint64_t seq);

}  // namespace autovibe::testing
