// What a finished call is charged, as the usage record the ledger settles it with.
#pragma once

#include <cstdint>

#include "autovibe/v1/budget.pb.h"
#include "worker-agent/meter/forward.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {

// The record of a call that ended as `how` says (the ledger fills in the ids):
//  - no answer from the upstream: "unreachable", nothing charged;
//  - the tool hung up: "client_gone", the usage seen so far, else the reservation;
//  - an error status: "upstream_error", its usage if it has one, else nothing;
//  - an answer that broke off: "upstream_error", the usage seen, else the reservation;
//  - a whole answer: "ok" with its usage, or "no_usage" charging the reservation.
// The reservation is the plan's worst case, marked estimated. Usage is priced at the model the
// answer names when it has a price, else at the requested model's.
v1::UsageRecord MakeUsageRecord(const CallPlan& plan, const Forwarded& how,
                                const PriceTable& prices, int64_t latency_us);

}  // namespace autovibe::meter
