#include "worker-agent/box/uid_pool.h"

#include <algorithm>

namespace autovibe::box {

Result<std::shared_ptr<UidPool::Lease>> UidPool::Acquire() {
  auto& used = *used_;
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i]) continue;
    used[i] = true;
    return std::make_shared<Lease>(used_, base_, i);
  }
  return MakeError(ErrorCode::kBusy, "all " + std::to_string(used.size()) +
                                         " task users are in use (tasks still stopping)");
}

size_t UidPool::in_use() const {
  return static_cast<size_t>(std::count(used_->begin(), used_->end(), true));
}

}  // namespace autovibe::box
