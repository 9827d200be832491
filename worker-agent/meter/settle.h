// What a finished call is charged, as the usage record the ledger settles it with.
#pragma once

#include <cstdint>

#include "autovibe/v1/budget.pb.h"
#include "worker-agent/meter/forward.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {

// The record of a call that ended as `how` says (the ledger fills in the ids):
//  - an upstream that could not be reached, or was not sent the whole request (connect, TLS or
//    the write failed): "unreachable", nothing charged;
//  - no answer to a request the upstream took (it timed out, or the connection ended before an
//    answer's head): "no_answer", the reservation;
//  - the tool hung up: "client_gone" (the proxy read on to the answer's end), its final usage,
//    else the reservation;
//  - an error status: "upstream_error", its final usage if it has one, else nothing;
//  - an answer that broke off: "upstream_error", its final usage, else the reservation;
//  - a whole answer: "ok" with its final usage, or "no_usage" charging the reservation.
// Usage is final when it is the answer's last word: a stream's opening figures (Anthropic's
// message_start) are not. The reservation is the plan's worst case, marked estimated. Usage is
// priced at the model the answer names when it has a price, else at the requested model's (an
// unpriced model at the table's highest), at the tier the answer says it was served at, with
// long-context rates when its prompt passes their threshold.
v1::UsageRecord MakeUsageRecord(const CallPlan& plan, const Forwarded& how,
                                const PriceTable& prices, int64_t latency_us);

}  // namespace autovibe::meter
