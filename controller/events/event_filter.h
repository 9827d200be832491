// Which events a reader of GET /v1/events gets: the kinds and project it asked for, within the
// projects its token may see. Plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/model/event.h"

namespace autovibe {

struct EventFilter {
  // Each matches a kind exactly ("task.running") or as the part before its dot ("task");
  // empty: every kind.
  std::vector<std::string> kinds;
  std::string project;  // "": every project the token sees
  std::string task;     // "": every task's and none
  // The token's projects; empty: every project and the fleet's own events (a machine's),
  // which a scoped token never gets.
  std::vector<std::string> scope;

  bool Passes(const StoredEvent& e) const;
};

// "task,budget.alert" as kinds: each a lowercase name of letters, digits, '_' and '.', at most
// 16 of them. A clear error otherwise.
Result<std::vector<std::string>> ParseEventKinds(std::string_view list);

}  // namespace autovibe
