// What agents said that the controller refused because the sending machine has no right to
// say it (an event or a lease request for a task attempt placed on another machine, usage
// under no lease of its own, a checkpoint dated in the future, an event past the size and id
// limits). The sending machine is the one its subject names; nothing in a payload says who
// sends. A refusal changes nothing but these counts: the metrics show them by kind and reason
// (autovibe_events_refused_total), and the log says so once per kind and reason, then at most
// once a minute with how many more came.
//
// Owner-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace autovibe {

// Why a message was refused: `reason` is a metric label ("not_your_task"), `detail` a
// sentence for the log.
struct Refusal {
  std::string reason;
  std::string detail;
};

class Refusals {
 public:
  // (kind, reason) -> how many, e.g. ("usage", "not_your_task") -> 1.
  using Counts = std::map<std::pair<std::string, std::string>, uint64_t>;

  // Counts one refused message of `kind` ("usage", "checkpoint_created", "lease", ...) from
  // `machine_id`, and logs it unless one of its kind and reason was logged less than a minute
  // ago.
  void Count(std::string_view kind, std::string_view machine_id, const Refusal& refusal);

  const Counts& counts() const { return counts_; }
  uint64_t Of(std::string_view kind, std::string_view reason) const;

 private:
  struct LogState {
    std::chrono::steady_clock::time_point last{};
    uint64_t folded = 0;  // refused since the last line
  };
  Counts counts_;
  std::map<std::pair<std::string, std::string>, LogState> log_;
};

}  // namespace autovibe
