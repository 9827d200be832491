// Error answers in the provider's own shape, so a tool's SDK shows them as it would the
// provider's: Anthropic {"type":"error","error":{"type","message"}}, OpenAI
// {"error":{"message","type","param":null,"code"}}.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autovibe::meter {

enum class Shape { kAnthropic, kOpenAi };

enum class Refusal {
  kBadRequest,       // 400: malformed HTTP, bad JSON, no model
  kUnknownModel,     // 400: the model has no price
  kUnauthorized,     // 401: no or unknown proxy token
  kNotFound,         // 404: not a proxied route
  kTooLarge,         // 413: body over max_request_bytes
  kRateLimited,      // 429: the task's requests or tokens per minute
  kBudgetExhausted,  // 429, do not retry: a budget cannot cover the call
  kNoUpstream,       // 502: the provider could not be reached
  kUnavailable,      // 503: the controller could not be asked
};

struct ErrorAnswer {
  int status = 500;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond content-type
};

// `message` is shown to the user as is. `retry_after_s` > 0 adds retry-after.
ErrorAnswer MakeErrorAnswer(Shape shape, Refusal refusal, std::string_view message,
                            int retry_after_s = 0);

}  // namespace autovibe::meter
