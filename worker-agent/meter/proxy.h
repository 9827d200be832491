// The agent's metering proxy (DESIGN.md, "Metering proxy"): one loopback HTTP listener for
// every task's tool. It checks the task's token (and that the caller may use it: a boxed
// task's token only from the task, peer_owner.h), prices the request's worst case and reserves
// it (CallLedger), forwards to the real provider (or answers from the mock), streams the
// answer back unbuffered while reading its usage, and settles the real cost.
//
// Routes: Anthropic POST /v1/messages (any query, e.g. ?beta=true; streaming SSE and JSON),
// OpenAI POST /v1/chat/completions and POST /v1/responses (streaming and not). Anything else
// is answered 404 without reaching the provider; HEAD / and GET / answer 200 (clients probe).
//
// Runs on the io_context it is given (the meter's thread); not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/core/result.h"
#include "common/http/listener.h"
#include "worker-agent/meter/call_ledger.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/proxy_stats.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {

// Where one provider's calls go.
struct UpstreamSettings {
  // "https://api.anthropic.com", "http://127.0.0.1:9000", ... or "mock".
  std::string url;
  std::string api_key;  // the real key: sent upstream, never shown to a tool or a log
  std::string ca_file;  // extra CA bundle for https (tests); empty: the system's
};

// What the mock upstream answers: a short text and these usage figures.
struct MockSettings {
  std::string text = "This is a canned reply from the autovibe mock upstream.";
  int64_t input_tokens = 100;
  int64_t output_tokens = 20;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
};

// Connections each user may hold open to the proxy: a coding tool opens a handful, one per
// call in flight.
inline constexpr size_t kConnectionsPerUser = 256;

// The proxy's connection caps on a machine running `task_slots` tasks at once, in an agent
// allowed `open_files` descriptors. Each user (a boxed task's, or the agent's own) may hold
// kConnectionsPerUser; overall there is room for every task's user and the agent's to hold
// theirs at once, and at least 4096, so the tasks cannot crowd each other out between them.
// All within the open-files limit less 256 kept for checkpoints, tools and the bus (half of it
// when that is 512 or less), each user's allowance cut to fit when that cannot hold them all.
// When every task runs as one user (task_user = "root": `shared_user`), that user may use all.
ConnectionLimits ProxyConnectionLimits(uint32_t task_slots, bool shared_user, uint64_t open_files);

struct ProxyOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free port
  // "anthropic", "openai" (any other key is refused). A provider with no entry has its calls
  // answered 502, without reaching anything.
  std::map<std::string, UpstreamSettings> upstreams;
  MockSettings mock;
  // Per task; 0: no limit. Over the limit a call gets 429 rate_limit_error with retry-after.
  uint32_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
  size_t max_request_bytes = 32 << 20;
  std::chrono::seconds upstream_timeout{600};  // the whole answer
  // After a tool hangs up, how long its answer is still read for the usage the provider bills
  // (then the call is charged its reservation, marked estimated).
  std::chrono::seconds drain_timeout{300};
  PricingRules pricing;  // unpriced models
  // A call whose worst case the budget cannot cover is sent with a lower output limit that
  // fits, down to this many tokens (fit_output.h); 0: never lowered (the call is refused).
  int64_t min_output_tokens = 4096;
  // A messages call with at least this many bytes that the task's earlier calls do not cover
  // (a session's first call) has its input counted by the provider first (count_tokens.h),
  // waiting at most count_tokens_timeout for the answer; 0: never.
  int64_t count_tokens_above = 32 << 10;
  std::chrono::milliseconds count_tokens_timeout{3000};
  // Connections open at once (listener.h), overall and per client: per user for a loopback
  // client whose socket's owner the kernel tells (a boxed task's user, or root), else per
  // address; a task's own listener (AlsoAccept) takes max_per_client in all. Over a cap a new
  // connection is answered 503 and closed. The agent's: ProxyConnectionLimits.
  ConnectionLimits limits{.max_connections = 4096, .max_per_client = kConnectionsPerUser};
  // A request's head must arrive within this of its first byte (of the connection, for a
  // connection's first request). The token is checked on the head, before the body is read.
  std::chrono::milliseconds header_timeout{10'000};
  // Where the proxy counts its calls and added latency (on its thread); null: nowhere.
  ProxyStats* stats = nullptr;
};

class MeteringProxy {
 public:
  virtual ~MeteringProxy() = default;
  virtual uint16_t port() const = 0;
  // "http://127.0.0.1:PORT": what ANTHROPIC_BASE_URL gets ("/v1" appended for OpenAI).
  virtual std::string url() const = 0;
  // Stops accepting; calls in flight finish.
  virtual void Stop() = 0;
  // Also serves connections on `listening_fd` (a proxy-only task's own listening socket, in
  // its network namespace) until the returned listener is stopped or dropped; calls there may
  // carry the token of `task_id` (peer_owner.h). Takes the fd.
  virtual Result<std::unique_ptr<TcpListener>> AlsoAccept(int listening_fd,
                                                          const std::string& task_id) = 0;
};

// `ledger` and `prices` must outlive the proxy, and the io_context too when it still holds
// calls in flight: a call torn down with the io_context is settled then. Fails with
// "bad_config" when an upstream URL is malformed or its ca_file cannot be loaded, and with
// "unavailable" when the port cannot be bound.
Result<std::unique_ptr<MeteringProxy>> StartMeteringProxy(boost::asio::io_context& ioc,
                                                          ProxyOptions options, CallLedger& ledger,
                                                          const PriceTable& prices);

}  // namespace autovibe::meter
