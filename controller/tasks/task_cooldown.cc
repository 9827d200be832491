// Machines that refuse assignments rest for a while (see TaskBook::CoolDown).
#include <algorithm>

#include "controller/tasks/task_book.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {
namespace {

constexpr int64_t kFirstCooldownMs = 1000;
constexpr int64_t kMaxCooldownMs = 30'000;

}  // namespace

Result<void> TaskBook::Tick() {
  return Guarded([&]() -> void {
    CheckAssignDeadlines();
    EndCooldowns();
  });
}

void TaskBook::Rest(const std::string& machine_id, bool resting) {
  scheduler_.SetResting(machine_id, resting);
  TellBusy(machine_id);
  if (!resting) pump_.Request();
}

void TaskBook::CoolDown(const std::string& machine_id) {
  Cooldown& c = cooldowns_[machine_id];
  c.backoff_ms = std::clamp(c.backoff_ms * 2, kFirstCooldownMs, kMaxCooldownMs);
  c.until_ms = clock_.NowMs() + c.backoff_ms;
  Rest(machine_id, true);
}

void TaskBook::Acknowledged(const std::string& machine_id) {
  auto c = cooldowns_.find(machine_id);
  if (c == cooldowns_.end()) return;
  const bool resting = c->second.until_ms != 0;
  cooldowns_.erase(c);
  if (resting) Rest(machine_id, false);
}

void TaskBook::EndCooldowns() {
  const int64_t now = clock_.NowMs();
  for (auto& [id, c] : cooldowns_) {
    if (c.until_ms == 0 || now < c.until_ms) continue;
    c.until_ms = 0;  // the backoff stays until the machine takes a task
    Rest(id, false);
  }
}

}  // namespace autovibe
