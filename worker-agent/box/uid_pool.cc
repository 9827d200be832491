#include "worker-agent/box/uid_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "worker-agent/box/process_uids.h"

namespace autovibe::box {

UidPool::UidPool(uid_t base, size_t size, ProcessUids processes)
    : base_(base),
      used_(std::make_shared<std::vector<bool>>(size, false)),
      held_(size, false),
      processes_(processes ? std::move(processes) : [](uid_t first, size_t count) {
        return UidsWithProcesses(first, count);
      }) {
  LookForProcesses();
  if (const size_t held = held_by_others(); held > 0) {
    spdlog::warn(
        "{} task user(s) from uid {} still own processes (tasks of an earlier run of the "
        "agent): not lent until those are gone",
        held, base_);
  }
}

void UidPool::LookForProcesses() {
  std::fill(held_.begin(), held_.end(), false);
  for (uid_t uid : processes_(base_, held_.size())) {
    const size_t i = uid - base_;
    // A lent uid owns its own task's processes; only the others are held.
    if (i < held_.size() && !(*used_)[i]) held_[i] = true;
  }
}

std::shared_ptr<UidPool::Lease> UidPool::LendFree() {
  auto& used = *used_;
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i] || held_[i]) continue;
    used[i] = true;
    return std::make_shared<Lease>(used_, base_, i);
  }
  return nullptr;
}

Result<std::shared_ptr<UidPool::Lease>> UidPool::Acquire() {
  if (auto lease = LendFree()) return lease;
  if (held_by_others() > 0) {
    // The processes found earlier may be gone by now: look again (a few ms at most, and only
    // when no other uid is left to lend).
    LookForProcesses();
    if (auto lease = LendFree()) return lease;
  }
  const size_t held = held_by_others();
  return MakeError(ErrorCode::kBusy,
                   "all " + std::to_string(used_->size()) + " task users are in use (" +
                       std::to_string(in_use()) + " lent to tasks still stopping" +
                       (held > 0 ? ", " + std::to_string(held) +
                                       " still owning processes of an earlier run of the agent"
                                 : std::string()) +
                       ")");
}

size_t UidPool::in_use() const {
  return static_cast<size_t>(std::count(used_->begin(), used_->end(), true));
}

size_t UidPool::held_by_others() const {
  size_t n = 0;
  for (size_t i = 0; i < held_.size(); ++i) n += held_[i] && !(*used_)[i] ? 1 : 0;
  return n;
}

}  // namespace autovibe::box
