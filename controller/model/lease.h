// A budget lease as the controller keeps it, and what agents ask of leases (DESIGN.md,
// "Budgets: leases").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/budget/amounts.h"

namespace autovibe {

// A call in flight on a lease, as the agent last listed it (v1::Reservation): `id` is the event
// id the call's usage record will carry. Charged in full, as an estimated record under that
// id, if the lease closes without the record (its agent restarted or is gone).
struct Reservation {
  std::string id;
  Amounts amounts;
  friend bool operator==(const Reservation&, const Reservation&) = default;
};

// One lease per task attempt, named by the agent. Figures are cumulative.
struct Lease {
  std::string id;
  std::string project;
  std::string task_id;
  uint32_t attempt = 0;
  std::string machine_id;
  Amounts granted;  // what the controller promised so far
  Amounts settled;  // the sum of the usage records that named this lease
  Amounts final;    // once closed: what the agent says it spent in all
  bool closed = false;
  int64_t expires_at_ms = 0;
  int64_t created_at_ms = 0;
  std::vector<Reservation> held;  // the calls in flight at the agent's last request
};

// A lease stands for the attempt it was granted to: held by that machine, for that attempt.
inline bool HeldFor(const Lease& l, std::string_view machine_id, std::string_view task_id,
                    uint32_t attempt) {
  return l.machine_id == machine_id && l.task_id == task_id && l.attempt == attempt;
}

// What an agent asks of a lease on av.lease.<m> (v1::LeaseRequest, field for field). Every
// figure is cumulative, so a repeated request changes nothing.
struct LeaseRequest {
  std::string machine_id;
  std::string lease_id;
  std::string task_id;
  uint32_t attempt = 0;
  std::string project;
  // The least the lease must hold in total, and how much the agent would like it to hold.
  Amounts need_total;
  Amounts want_total;
  // Nothing more is spent on the lease; `consumed` is final.
  bool close = false;
  // Spent under the lease so far: the sum of the usage records sent for it.
  Amounts consumed;
  // The calls in flight on the lease now.
  std::vector<Reservation> held;
};

// The controller's answer (v1::LeaseReply, field for field).
struct LeaseReply {
  std::string lease_id;
  bool ok = false;
  Amounts granted_total;  // cumulative: at least need_total when ok
  uint32_t ttl_ms = 0;    // stop spending this long after the reply unless renewed
  // When not ok: which budget said no ("usd", ..., "task max_usd", "project stopped"), a
  // message a user understands, and what happens to the task: "pause" or "stop".
  std::string denied_resource;
  std::string message;
  std::string on_exhaust;
  std::string error;  // the request itself was bad (unknown task, wrong machine)
  // The budget really is used up (the task pauses or stops); else it is only held by other
  // running calls for now.
  bool exhausted = false;
};

}  // namespace autovibe
