// The request line and headers every HTTP call of ours sends, from an HttpCall. Shared by the
// one-shot client and the event-stream client; Beast types, so only for their .cc files.
#pragma once

#include <boost/beast/http.hpp>
#include <string_view>

#include "common/http/client.h"

namespace autovibe {

inline boost::beast::http::request<boost::beast::http::string_body> MakeClientRequest(
    const HttpCall& call, std::string_view target, std::string_view host) {
  namespace http = boost::beast::http;
  http::request<http::string_body> req{http::string_to_verb(call.method), target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "autovibe-cli");
  if (!call.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + call.bearer_token);
  }
  for (const auto& [name, value] : call.headers) req.set(name, value);
  if (!call.body.empty()) {
    req.set(http::field::content_type, call.content_type);
    req.body() = call.body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace autovibe
