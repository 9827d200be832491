// A state change the controller wrote down (machine registered, task requeued, a budget alert,
// a checkpoint taken, ...): the history `machines show` and `task show` print, and the live
// stream of GET /v1/events.
#pragma once

#include <cstdint>
#include <string>

namespace autovibe {

struct StoredEvent {
  int64_t seq = 0;
  int64_t at_ms = 0;
  std::string kind;  // "machine.registered", "machine.lost", ...
  std::string machine_id;
  std::string detail_json;
  std::string task_id;
  std::string project;  // "" for the fleet's own events (a machine's)
};

}  // namespace autovibe
