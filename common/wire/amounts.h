// Amounts on the wire (v1::Amounts), for the two bus edges that carry leases: the
// controller's agents/ and the agent's meter. Kept out of common/budget/ so that nothing
// behind the edges sees protobuf.
#pragma once

#include "autovibe/v1/budget.pb.h"
#include "common/budget/amounts.h"

namespace autovibe {

inline v1::Amounts ToProto(const Amounts& a) {
  v1::Amounts p;
  p.set_usd_micros(a.usd_micros);
  p.set_tokens(a.tokens);
  p.set_api_calls(a.api_calls);
  p.set_task_ms(a.task_ms);
  p.set_machine_ms(a.machine_ms);
  return p;
}

inline Amounts FromProto(const v1::Amounts& p) {
  return Amounts{.usd_micros = p.usd_micros(),
                 .tokens = p.tokens(),
                 .api_calls = p.api_calls(),
                 .task_ms = p.task_ms(),
                 .machine_ms = p.machine_ms()};
}

}  // namespace autovibe
