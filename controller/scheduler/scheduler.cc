#include "controller/scheduler/scheduler.h"

#include <algorithm>

namespace autovibe {
namespace {

// How far into a project's queue a pass looks for a task some free machine fits: at most this
// many distinct kinds of task (tool and labels), and at most kScanLimit tasks in all, so a
// block of tasks no machine can take holds back the rest only when it is very long.
constexpr size_t kScanDepth = 64;
constexpr size_t kScanLimit = 10'000;

bool Fits(const SchedulerTask& t, const std::vector<std::string>& tools,
          const std::map<std::string, std::string>& labels) {
  if (std::find(tools.begin(), tools.end(), t.tool) == tools.end()) return false;
  for (const auto& [k, v] : t.labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string Signature(const SchedulerMachine& m) {
  std::string s;
  for (const auto& t : m.tools) s += t + ",";
  s += "|";
  for (const auto& [k, v] : m.labels) s += k + "=" + v + "\n";
  return s;
}

}  // namespace

// Machines with the same tools and labels: a task that fits one fits all.
struct Scheduler::Group {
  std::vector<std::string> tools;
  std::map<std::string, std::string> labels;
  std::map<std::string, MachineEntry*> free;  // machines with a free slot, by id
};

struct Scheduler::MachineEntry {
  std::string id;
  Group* group = nullptr;
  uint32_t slots = 1;
  bool accepting = true;
  bool resting = false;
  std::unordered_set<std::string> held;
  bool HasFree() const { return accepting && !resting && held.size() < slots; }
};

struct Scheduler::Level {
  std::map<std::string, std::deque<SchedulerTask>> projects;
  std::string last_project;  // the project that placed last: its turn is over
};

Scheduler::Scheduler() = default;
Scheduler::~Scheduler() = default;

Scheduler::Group& Scheduler::GroupFor(const SchedulerMachine& m) {
  auto& g = groups_[Signature(m)];
  if (!g) {
    g = std::make_unique<Group>();
    g->tools = m.tools;
    g->labels = m.labels;
  }
  return *g;
}

void Scheduler::UpdateFree(MachineEntry& m) {
  const bool was_free = m.group->free.count(m.id) > 0;
  if (m.HasFree() && !was_free) m.group->free[m.id] = &m;
  if (!m.HasFree() && was_free) m.group->free.erase(m.id);
}

void Scheduler::UpsertMachine(const SchedulerMachine& in) {
  auto& entry = machines_[in.id];
  if (!entry) {
    entry = std::make_unique<MachineEntry>();
    entry->id = in.id;
  }
  Group& g = GroupFor(in);
  if (entry->group != nullptr && entry->group != &g) entry->group->free.erase(in.id);
  entry->group = &g;
  entry->slots = std::max<uint32_t>(in.slots, 1);
  entry->accepting = in.accepting;
  UpdateFree(*entry);
}

void Scheduler::SetResting(const std::string& id, bool resting) {
  auto it = machines_.find(id);
  if (it == machines_.end()) return;
  it->second->resting = resting;
  UpdateFree(*it->second);
}

void Scheduler::RemoveMachine(const std::string& id) {
  auto it = machines_.find(id);
  if (it == machines_.end()) return;
  it->second->group->free.erase(id);
  machines_.erase(it);
}

void Scheduler::Enqueue(const SchedulerTask& t) {
  if (!queued_.insert(t.id).second) return;
  levels_[t.priority].projects[t.project].push_back(t);
}

void Scheduler::Dequeue(const std::string& task_id) { queued_.erase(task_id); }

void Scheduler::Hold(const std::string& machine_id, const std::string& task_id) {
  auto it = machines_.find(machine_id);
  if (it == machines_.end()) return;
  it->second->held.insert(task_id);
  UpdateFree(*it->second);
}

void Scheduler::Release(const std::string& machine_id, const std::string& task_id) {
  auto it = machines_.find(machine_id);
  if (it == machines_.end()) return;
  it->second->held.erase(task_id);
  UpdateFree(*it->second);
}

std::vector<std::string> Scheduler::Held(const std::string& machine_id) const {
  auto it = machines_.find(machine_id);
  if (it == machines_.end()) return {};
  return {it->second->held.begin(), it->second->held.end()};
}

bool Scheduler::Full(const std::string& machine_id) const {
  auto it = machines_.find(machine_id);
  return it == machines_.end() || it->second->held.size() >= it->second->slots;
}

void Scheduler::ForgetTasks() {
  levels_.clear();
  queued_.clear();
  for (auto& [id, m] : machines_) {
    m->held.clear();
    UpdateFree(*m);
  }
}

std::vector<std::string> Scheduler::MachineIds() const {
  std::vector<std::string> out;
  for (const auto& [id, m] : machines_) out.push_back(id);
  return out;
}

bool Scheduler::AnyMachineFits(const std::string& tool,
                               const std::map<std::string, std::string>& labels) const {
  SchedulerTask t;
  t.tool = tool;
  t.labels = labels;
  for (const auto& [sig, g] : groups_) {
    if (!Fits(t, g->tools, g->labels)) continue;
    for (const auto& [id, m] : machines_) {
      if (m->group == g.get() && m->accepting) return true;
    }
  }
  return false;
}

Scheduler::MachineEntry* Scheduler::FindFreeMachine(const SchedulerTask& t) {
  for (auto& [sig, g] : groups_) {
    if (g->free.empty() || !Fits(t, g->tools, g->labels)) continue;
    // The least loaded free machine of the group spreads work; ties go to the lowest id.
    MachineEntry* best = nullptr;
    for (auto& [id, m] : g->free) {
      if (best == nullptr || m->held.size() < best->held.size()) best = m;
      if (best->held.empty()) break;
    }
    return best;
  }
  return nullptr;
}

// Places the first task of `project` that some free machine fits; false if none does.
bool Scheduler::PlaceFromProject(Level& level, const std::string& project,
                                 std::vector<Placement>& out) {
  auto& q = level.projects[project];
  // Kinds (tool, labels) no free machine takes, in this pass. Copies: erasing from the deque
  // moves its elements.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> unfit;
  size_t scanned = 0;
  for (auto it = q.begin(); it != q.end() && unfit.size() < kScanDepth && scanned < kScanLimit;) {
    if (!queued_.count(it->id)) {  // dequeued since: drop lazily
      it = q.erase(it);
      continue;
    }
    ++scanned;
    const bool known_unfit = std::any_of(unfit.begin(), unfit.end(), [&](const auto& u) {
      return u.first == it->tool && u.second == it->labels;
    });
    MachineEntry* m = known_unfit ? nullptr : FindFreeMachine(*it);
    if (m == nullptr) {
      if (!known_unfit) unfit.emplace_back(it->tool, it->labels);
      ++it;
      continue;
    }
    out.push_back({it->id, m->id});
    queued_.erase(it->id);
    m->held.insert(it->id);
    UpdateFree(*m);
    q.erase(it);
    return true;
  }
  return false;
}

bool Scheduler::AnyFree() const {
  for (const auto& [sig, g] : groups_) {
    if (!g->free.empty()) return true;
  }
  return false;
}

std::vector<Placement> Scheduler::Place(size_t max) {
  std::vector<Placement> out;
  for (auto level_it = levels_.begin(); level_it != levels_.end() && out.size() < max;) {
    if (!AnyFree()) break;
    Level& level = level_it->second;
    // Round-robin: each pass over the projects starts after the one that placed last.
    bool progress = true;
    while (progress && out.size() < max && AnyFree()) {
      progress = false;
      std::vector<std::string> order;
      for (auto it = level.projects.upper_bound(level.last_project); it != level.projects.end();
           ++it) {
        order.push_back(it->first);
      }
      for (auto it = level.projects.begin();
           it != level.projects.end() && it->first <= level.last_project; ++it) {
        order.push_back(it->first);
      }
      for (const std::string& p : order) {
        if (out.size() >= max) break;
        if (PlaceFromProject(level, p, out)) {
          level.last_project = p;
          progress = true;
        }
      }
    }
    // Forget emptied projects and levels so passes stay cheap.
    for (auto it = level.projects.begin(); it != level.projects.end();) {
      it = it->second.empty() ? level.projects.erase(it) : std::next(it);
    }
    level_it = level.projects.empty() ? levels_.erase(level_it) : std::next(level_it);
  }
  return out;
}

}  // namespace autovibe
