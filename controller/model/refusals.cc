#include "controller/model/refusals.h"

#include <spdlog/spdlog.h>

namespace autovibe {
namespace {

// A machine that keeps trying is worth one line a minute, not one per message.
constexpr auto kLogEvery = std::chrono::minutes(1);

}  // namespace

void Refusals::Count(std::string_view kind, std::string_view machine_id, const Refusal& refusal) {
  std::pair<std::string, std::string> key{std::string(kind), refusal.reason};
  ++counts_[key];
  LogState& s = log_[std::move(key)];
  const auto now = std::chrono::steady_clock::now();
  if (s.last != std::chrono::steady_clock::time_point{} && now - s.last < kLogEvery) {
    ++s.folded;
    return;
  }
  if (s.folded == 0) {
    spdlog::warn("controller refused a {} message from machine {}: {} ({})", kind, machine_id,
                 refusal.reason, refusal.detail);
  } else {
    spdlog::warn(
        "controller refused a {} message from machine {}: {} ({}); {} more like it since "
        "the last such line",
        kind, machine_id, refusal.reason, refusal.detail, s.folded);
  }
  s.last = now;
  s.folded = 0;
}

uint64_t Refusals::Of(std::string_view kind, std::string_view reason) const {
  auto it = counts_.find({std::string(kind), std::string(reason)});
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace autovibe
