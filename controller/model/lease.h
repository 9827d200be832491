// A budget lease as the controller keeps it (DESIGN.md, "Budgets: leases").
#pragma once

#include <cstdint>
#include <string>

#include "common/budget/amounts.h"

namespace autovibe {

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
};

}  // namespace autovibe
