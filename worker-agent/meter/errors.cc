#include "worker-agent/meter/errors.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace autovibe::meter {
namespace {

struct Kind {
  int status;
  const char* anthropic_type;
  const char* openai_type;
  const char* openai_code;  // null: JSON null
};

Kind KindOf(Refusal r) {
  switch (r) {
    case Refusal::kBadRequest:
      return {400, "invalid_request_error", "invalid_request_error", nullptr};
    case Refusal::kUnknownModel:
      return {400, "invalid_request_error", "invalid_request_error", "model_not_found"};
    case Refusal::kUnauthorized:
      return {401, "authentication_error", "invalid_request_error", "invalid_api_key"};
    case Refusal::kNotFound:
      return {404, "not_found_error", "invalid_request_error", "unknown_url"};
    case Refusal::kTooLarge:
      return {413, "request_too_large", "invalid_request_error", "request_too_large"};
    case Refusal::kRateLimited:
      return {429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"};
    case Refusal::kBudgetExhausted:
      return {429, "rate_limit_error", "insufficient_quota", "insufficient_quota"};
    case Refusal::kNoUpstream:
      return {502, "api_error", "server_error", "upstream_unreachable"};
    case Refusal::kUnavailable:
      return {503, "overloaded_error", "server_error", "service_unavailable"};
  }
  return {500, "api_error", "server_error", nullptr};
}

}  // namespace

ErrorAnswer MakeErrorAnswer(Shape shape, Refusal refusal, std::string_view message,
                            int retry_after_s) {
  namespace json = boost::json;
  Kind kind = KindOf(refusal);
  ErrorAnswer answer;
  answer.status = kind.status;
  json::object error;
  if (shape == Shape::kAnthropic) {
    error["type"] = kind.anthropic_type;
    error["message"] = message;
    answer.body = json::serialize(json::object{{"type", "error"}, {"error", std::move(error)}});
  } else {
    error["message"] = message;
    error["type"] = kind.openai_type;
    error["param"] = nullptr;
    error["code"] = kind.openai_code ? json::value(kind.openai_code) : json::value(nullptr);
    answer.body = json::serialize(json::object{{"error", std::move(error)}});
  }
  // The SDKs retry 429s unless told not to; a budget will not grow by retrying.
  if (refusal == Refusal::kBudgetExhausted) answer.headers.emplace_back("x-should-retry", "false");
  if (retry_after_s > 0) answer.headers.emplace_back("retry-after", std::to_string(retry_after_s));
  return answer;
}

}  // namespace autovibe::meter
