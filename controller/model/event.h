// A decision the controller wrote down (machine registered, task requeued, ...): the event log
// the API and the CLI show.
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
};

}  // namespace autovibe
