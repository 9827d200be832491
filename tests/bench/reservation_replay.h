// The budget bench's reservation figures: how tight the proxy's reservations are over a
// recorded multi-turn Claude Code session.
#pragma once

namespace autovibe::bench {

// Records a session of the real Claude Code CLI (`claude` on PATH) against the fake Anthropic
// API: one task, then `continuations` more prompts continuing its conversation (claude
// --continue), so each request resends a growing conversation. Then replays every recorded
// messages request through the proxy's own planning (meter::PlanCall, the prefix book,
// meter::WorstCase) in order, learning each answer's reported usage as the proxy does, and
// prints per call the reservation with request bytes as the input bound and with the known
// prefix, against what the call cost; then the medians. Returns 0; 1 when a call's actual cost
// exceeded its reservation (the bound is broken); 2 when claude is not installed.
int ReservationReplay(int continuations);

}  // namespace autovibe::bench
