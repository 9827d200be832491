// The mock upstream (an upstream URL of "mock"): the agent answers a call itself, in the
// provider's own shape and with the configured text and usage, streamed (the same SSE events
// as the real API) or as one JSON body. Nothing is spent, but the call is metered like any.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "worker-agent/meter/proxy.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {

struct MockAnswer {
  std::string content_type;
  // Written one after the other: one SSE event each when streaming, else the whole body.
  std::vector<std::string> pieces;
};

// `serial` makes the answer's ids unique. For OpenAI the cache-write tokens count as input
// (OpenAI charges no extra for writing its cache).
MockAnswer MockReply(const CallPlan& plan, const MockSettings& mock, uint64_t serial);

}  // namespace autovibe::meter
