#include "controller/machines/autoscaler.h"

#include <chrono>

namespace autovibe {

ScaleDecision DecideScaling(const std::vector<PoolView>& pools,
                            const std::vector<WaitingTask>& waiting,
                            const std::function<bool(const std::string& project)>& may_spend,
                            int64_t now_ms) {
  struct Room {
    uint32_t live = 0;
    uint32_t free_slots = 0;  // on machines on their way, and those decided now
    uint32_t spawn = 0;
    bool wanted = false;  // some waiting task could use this pool
  };
  std::vector<Room> rooms(pools.size());
  for (size_t i = 0; i < pools.size(); ++i) {
    rooms[i].live = static_cast<uint32_t>(pools[i].machines.size());
    // Machines on their way take waiting tasks soon; an idle ready one that a scheduling pass
    // left a task next to cannot run it (a tool it lacks): another of the same would not either.
    for (const PoolMachineView& m : pools[i].machines) {
      if (m.starting || m.idle) rooms[i].free_slots += pools[i].pool->task_slots;
    }
  }
  std::map<std::string, bool> allowed;
  for (const WaitingTask& t : waiting) {
    auto [it, fresh] = allowed.try_emplace(t.project, false);
    if (fresh) it->second = may_spend(t.project);
    if (!it->second) continue;
    for (size_t i = 0; i < pools.size(); ++i) {
      const PoolConfig& p = *pools[i].pool;
      if (!PoolServes(p, t.tool, t.labels)) continue;
      Room& r = rooms[i];
      r.wanted = true;
      if (r.free_slots == 0) {
        if (pools[i].spawn_paused || r.live + r.spawn >= p.max) continue;
        ++r.spawn;
        r.free_slots += p.task_slots;
      }
      --r.free_slots;
      break;
    }
  }
  ScaleDecision out;
  for (size_t i = 0; i < pools.size(); ++i) {
    const PoolConfig& p = *pools[i].pool;
    Room& r = rooms[i];
    if (r.live + r.spawn < p.min && !pools[i].spawn_paused) r.spawn = p.min - r.live;
    if (r.spawn > 0) out.spawn[p.name] = r.spawn;
    if (r.spawn > 0 || r.wanted) continue;
    uint32_t live = r.live;
    const int64_t idle_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(p.idle_timeout).count();
    for (const PoolMachineView& m : pools[i].machines) {
      if (live <= p.min) break;
      if (m.idle && now_ms - m.idle_since_ms >= idle_ms) {
        out.retire.push_back(m.id);
        --live;
      }
    }
  }
  return out;
}

}  // namespace autovibe
