// Lowering a call's output limit to fit its budget. Most of a coding tool's worst case is its
// output limit (Claude Code asks for 32,000 to 64,000 output tokens on every call, and writes a
// few hundred), so near the end of a budget a call would be refused that costs cents. Instead
// the proxy reserves what the budget still has and sends the call with the output limit that
// fits, down to a floor: its answer may then stop early with the provider's own "max_tokens"
// (or "length") stop reason, which tools handle, and the task pauses only when not even the
// floor fits. The reservation stays an upper bound of what the call can cost.
#pragma once

#include <cstdint>

#include "common/budget/amounts.h"
#include "common/core/result.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {

// The least output limit `plan` may be sent with: `floor`, or above the thinking budget it
// sets; 0 when that is not below its own limit (it cannot be lowered) or `floor` is 0.
int64_t LeastOutput(const CallPlan& plan, int64_t floor);

// The worst case of `plan` were its output limit `output`.
Result<Worst> WorstWithOutput(const CallPlan& plan, int64_t output);

// The largest output limit from `least` to the plan's own whose worst case fits in `held`;
// 0 when none does.
int64_t FittingOutput(const CallPlan& plan, int64_t least, const Amounts& held);

// Sends `plan` with output limit `output` (below its own): the body's limit member
// (max_tokens, max_completion_tokens or max_output_tokens) is set to it, and the plan's facts,
// worst case and `lowered_output` follow. Fails with kBadRequest if the body is not a JSON
// object (PlanCall read it, so it is).
Result<void> LowerOutput(CallPlan& plan, int64_t output);

}  // namespace autovibe::meter
