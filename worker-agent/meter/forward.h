// Forwarding one call to the provider and its answer back to the tool as it arrives, reading
// the usage on the way; and the mock's answer, sent and read the same way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <string>

#include "worker-agent/meter/mock.h"
#include "worker-agent/meter/tool_reply.h"
#include "worker-agent/meter/upstream.h"
#include "worker-agent/meter/usage.h"

namespace autovibe::meter {

// How a call's answer went.
struct Forwarded {
  int http_status = 0;  // what the upstream answered; 0: no answer
  std::string error;    // why there was no (whole) answer, for the log and the tool
  // The whole request was handed to the upstream: from then on the provider may bill it, even
  // when no answer comes.
  bool request_sent = false;
  bool client_gone = false;
  bool complete = false;  // the whole answer came (and reached the tool, unless it was gone)
  SeenUsage usage;
};

// Sends `request` upstream, on an idle pooled connection when there is one, and relays the
// answer to `reply`. A pooled connection the server had closed meanwhile (the request could not
// be written, or the connection ended or was reset at once, before any byte of an answer) is
// replaced by a new one, once; a request the upstream may have taken (it failed later, or any
// other way) is never sent again: the provider would bill it twice. A tool hanging up while
// the answer comes (noticed on `tool_socket`, or when a write to it fails) does not end the
// call: the provider bills the whole answer, so the proxy reads on to its end for the final
// usage, writing nothing and keeping only what the usage reader keeps, for at most
// `drain_timeout` after the hang-up (and never past `deadline`); then the upstream connection
// is closed. The connection goes back to the pool after a whole answer the server keeps it
// open for.
boost::asio::awaitable<Forwarded> Forward(
    UpstreamPool& pool, const boost::beast::http::request<boost::beast::http::string_body>& request,
    Api api, ToolReply& reply, boost::asio::ip::tcp::socket& tool_socket,
    std::chrono::steady_clock::time_point deadline,
    std::chrono::steady_clock::duration drain_timeout);

// Writes the mock's answer to `reply` and reads it like a provider's.
boost::asio::awaitable<Forwarded> SendMock(const MockAnswer& answer, Api api, ToolReply& reply);

// The upstream request for a call: `target` (prefix, route, query), the real key, and the
// tool's headers that matter (never its token, nor Accept-Encoding: the answer must be read).
boost::beast::http::request<boost::beast::http::string_body> UpstreamRequest(
    const boost::beast::http::request<boost::beast::http::string_body>& from_tool, Api api,
    const UpstreamUrl& url, const std::string& api_key, std::string body);

// The headers of an upstream answer the tool gets: content type, request ids, rate-limit and
// provider headers, retry advice.
boost::beast::http::fields AnswerFields(const boost::beast::http::fields& upstream);

}  // namespace autovibe::meter
