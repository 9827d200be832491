// Exact input counts for a session's first calls. A request the task's earlier calls do not
// cover (a session's first call: system prompt and tool definitions, tens of kilobytes) would
// be bounded by its bytes, about four times its tokens; Anthropic's free token counter
// (POST /v1/messages/count_tokens) gives the figure in one round trip. The proxy asks it only
// where that pays: a messages call with at least `count_tokens_above` bytes no known prefix
// covers. Anthropic calls the count an estimate that may differ "by a small amount" (and it
// may include tokens added for system optimisations, which are not billed), so the bound is
// the count plus kCountMargin: the reservation stays an upper bound. On any failure (no answer
// within the timeout, an error, a body without input_tokens) the call keeps its byte bound.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "worker-agent/meter/request.h"
#include "worker-agent/meter/upstream.h"

namespace autovibe::meter {

// The bound a count gives: count + count/20 + 64.
int64_t CountedBound(int64_t counted);

// The count_tokens body for a messages request: its model, system, tools, tool_choice,
// thinking and messages (the counter refuses the other members). Errors: bad_request when the
// body is not a JSON object.
Result<std::string> CountTokensBody(std::string_view messages_body);

// Asks `pool`'s provider to count the input of the messages call `upstream_request` (as it
// would be sent: headers, real key, query) and lowers the plan's input bound to CountedBound
// of the answer when that is tighter. Returns the count, or why there is none.
boost::asio::awaitable<Result<int64_t>> TightenByCount(
    UpstreamPool& pool,
    const boost::beast::http::request<boost::beast::http::string_body>& upstream_request,
    CallPlan& plan, std::chrono::steady_clock::time_point deadline);

}  // namespace autovibe::meter
