// One metered call, from the tool's request to its settled cost: check the task's token (and
// that the caller may use it), plan the call and its worst case, apply the task's rate limits,
// reserve, forward (or let the mock answer), settle what it really cost.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "worker-agent/meter/api.h"
#include "worker-agent/meter/call_ledger.h"
#include "worker-agent/meter/peer_owner.h"
#include "worker-agent/meter/prefix_book.h"
#include "worker-agent/meter/proxy.h"
#include "worker-agent/meter/rate_limit.h"
#include "worker-agent/meter/tool_reply.h"
#include "worker-agent/meter/upstream.h"

namespace autovibe::meter {

// Where one provider's calls go.
struct Provider {
  bool mock = false;
  std::string api_key;
  std::unique_ptr<UpstreamPool> pool;  // null for the mock
};

struct CallEnv {
  CallLedger& ledger;
  const PriceTable& prices;
  RateLimiter& limiter;
  const ProxyOptions& options;  // the mock's answer, pricing rules, drain timeout
  const Provider* provider;     // null: none configured for the call's API
  uint64_t serial;              // unique per call (mock ids)
  const Peer& peer;             // where the call comes from: who may use which token
  // Tightens a call's input bound with the token counts of its known prefix; may be null.
  PrefixBook* prefixes = nullptr;
  // Counts the call and its added latency; may be null.
  ProxyStats* stats = nullptr;
};

// The token the tool sent: x-api-key, else Authorization: Bearer. Empty if neither.
std::string_view ProxyToken(const boost::beast::http::request<boost::beast::http::string_body>& r);

// Answers `request` (a POST to `api`'s route, whose body it takes) through `reply`. Every
// successful reservation is settled exactly once, on every path.
boost::asio::awaitable<void> RunCall(
    const CallEnv& env, Api api,
    boost::beast::http::request<boost::beast::http::string_body>& request, ToolReply& reply,
    boost::asio::ip::tcp::socket& tool_socket, std::chrono::steady_clock::time_point received,
    std::chrono::steady_clock::time_point deadline);

}  // namespace autovibe::meter
