// The provider APIs the metering proxy serves, and the routes that reach them.
#pragma once

#include <optional>
#include <string_view>

namespace autovibe::meter {

enum class Api {
  kMessages,         // Anthropic POST /v1/messages
  kChatCompletions,  // OpenAI POST /v1/chat/completions
  kResponses,        // OpenAI POST /v1/responses
};

// The API behind a request path (without the query); nullopt for any other path.
inline std::optional<Api> ApiForPath(std::string_view path) {
  if (path == "/v1/messages") return Api::kMessages;
  if (path == "/v1/chat/completions") return Api::kChatCompletions;
  if (path == "/v1/responses") return Api::kResponses;
  return std::nullopt;
}

inline std::string_view RouteOf(Api api) {
  switch (api) {
    case Api::kMessages:
      return "/v1/messages";
    case Api::kChatCompletions:
      return "/v1/chat/completions";
    case Api::kResponses:
      return "/v1/responses";
  }
  return "";
}

// "anthropic" or "openai": the key of ProxyOptions::upstreams.
inline std::string_view ProviderOf(Api api) {
  return api == Api::kMessages ? "anthropic" : "openai";
}

}  // namespace autovibe::meter
