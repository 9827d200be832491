#include "controller/fleet/fleet.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cmath>

#include "common/core/ids.h"

namespace autovibe {
namespace {

constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxLabelBytes = 256;
constexpr size_t kMaxTools = 32;
constexpr size_t kMaxShortString = 64;

bool ValidLabelKey(std::string_view k) {
  if (k.empty() || k.size() > kMaxShortString) return false;
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

// Resource figures come from agents: anything not finite, negative or absurd is refused so it
// can never reach the API's JSON or the database.
bool ValidResources(const Resources& r) {
  constexpr uint64_t kMaxBytes = uint64_t{1} << 60;  // an exbibyte
  return r.cpu_cores <= 1'000'000 && r.mem_total_bytes <= kMaxBytes &&
         r.mem_used_bytes <= kMaxBytes && r.disk_total_bytes <= kMaxBytes &&
         r.disk_free_bytes <= kMaxBytes && std::isfinite(r.load1) && r.load1 >= 0 && r.load1 <= 1e6;
}

// What an agent that kept its id across a controller's loss of state may reclaim.
bool ValidMachineId(std::string_view id) {
  if (id.size() != 14 || !id.starts_with("m-")) return false;
  for (char c : id.substr(2)) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// Returns an empty string when the request is acceptable, else why not.
std::string CheckRegister(const MachineRegistration& req) {
  if (!ValidMachineName(req.name)) {
    return "invalid machine name \"" + req.name.substr(0, 80) +
           "\": use 1-63 letters, digits, '.', '_' or '-'";
  }
  if (req.labels.size() > kMaxLabels) return "too many labels";
  for (const auto& [k, v] : req.labels) {
    if (!ValidLabelKey(k)) return "invalid label key \"" + k.substr(0, 80) + "\"";
    if (v.size() > kMaxLabelBytes) return "label " + k + " is too long";
  }
  if (req.tools.size() > kMaxTools) return "too many tools";
  for (const auto& t : req.tools) {
    if (!ValidLabelKey(t)) return "invalid tool name \"" + t.substr(0, 80) + "\"";
  }
  if (req.agent_version.size() > kMaxShortString || req.backend.size() > kMaxShortString) {
    return "agent version or backend too long";
  }
  if (!ValidResources(req.resources)) return "resource figures out of range";
  if (req.instance_id.size() > kMaxShortString) return "instance id too long";
  if (req.task_slots > 1024) return "task_slots must be at most 1024";
  if (!req.machine_id.empty() && !ValidMachineId(req.machine_id)) return "malformed machine id";
  return "";
}

}  // namespace

Fleet::Fleet(Store& store, const Clock& clock, FleetOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Result<void> Fleet::Load() {
  auto loaded = store_.LoadMachines();
  if (!loaded) return loaded.error();
  const int64_t deadline = clock_.NowMs() + options_.heartbeat_ttl.count();
  for (auto& m : *loaded) {
    auto e = std::make_unique<Entry>();
    e->record = std::move(m);
    e->deadline_ms = deadline;
    by_id_[e->record.id] = e.get();
    by_name_[e->record.name] = e.get();
    machines_.push_back(std::move(e));
  }
  spdlog::info("fleet loaded machines={}", machines_.size());
  return {};
}

RegisterOutcome Fleet::Refuse(std::string_view reason, std::string message) {
  ++counters_.invalid[std::string(reason)];
  spdlog::warn("fleet registration refused: {}", message);
  return {.error = std::move(message)};
}

RegisterOutcome Fleet::Register(const MachineRegistration& req) {
  if (std::string why = CheckRegister(req); !why.empty()) return Refuse("register", why);
  const int64_t now = clock_.NowMs();
  const bool running = !req.running_task_ids.empty();
  Entry* e = nullptr;
  bool known = false;
  if (auto it = by_name_.find(req.name); it != by_name_.end()) {
    e = it->second;
    known = true;
    if (!StateOnRegister(e->record.state, running)) {
      return Refuse("register", "machine " + e->record.name + " (" + e->record.id + ") is " +
                                    std::string(ToString(e->record.state)) +
                                    " and cannot register again under that name");
    }
    // Two live agents must not share one machine: a second agent with the same name (a
    // cloned VM, a copy on the same host) is refused until the first one goes quiet.
    if (ExpectsHeartbeats(e->record.state) && req.machine_id != e->record.id &&
        now <= e->deadline_ms) {
      return Refuse("register", "machine name " + e->record.name + " is in use by live machine " +
                                    e->record.id + "; give this agent another --name");
    }
  }
  MachineRecord next = known ? e->record : MachineRecord{};
  if (!known) {
    // An agent that remembers an id the controller no longer knows (its database was lost)
    // gets that id back, so logs and dashboards keep making sense.
    const bool reclaim = !req.machine_id.empty() && !by_id_.count(req.machine_id);
    next.id = reclaim ? req.machine_id : NewId("m");
    next.name = req.name;
    next.created_at_ms = now;
  }
  // A provisioned machine keeps the backend that made it, whatever its agent was told.
  if (next.pool.empty() && !req.backend.empty()) next.backend = req.backend;
  next.labels = req.labels;
  next.tools = req.tools;
  next.resources = req.resources;
  next.agent_version = req.agent_version;
  const bool restarted = known && next.instance_id != req.instance_id;
  next.instance_id = req.instance_id;
  next.task_slots = req.task_slots;
  next.last_heartbeat_at_ms = now;
  next.registered_at_ms = now;
  const MachineState prev = next.state;
  next.state = known ? *StateOnRegister(prev, running)
                     : (running ? MachineState::kBusy : MachineState::kReady);
  if (auto r = store_.SaveMachine(next); !r) {
    spdlog::error("fleet cannot save machine {}: {}", next.name, r.error().message);
    return {.error = "controller cannot store the machine right now; retry"};
  }
  if (!known) {
    auto owned = std::make_unique<Entry>();
    e = owned.get();
    machines_.push_back(std::move(owned));
    by_id_[next.id] = e;
    by_name_[next.name] = e;
  }
  e->record = std::move(next);
  e->deadline_ms = now + options_.heartbeat_ttl.count();
  e->dirty = false;
  e->last_sequence = 0;  // a (re)started agent counts its heartbeats from 1 again
  ++counters_.registrations;
  boost::json::object detail{{"name", e->record.name},
                             {"from", known ? ToString(prev) : "new"},
                             {"to", ToString(e->record.state)},
                             {"agent_version", e->record.agent_version}};
  Record(known ? "machine.reregistered" : "machine.registered", e->record.id,
         boost::json::serialize(detail));
  spdlog::info("fleet machine {} id={} name={} state={}", known ? "re-registered" : "registered",
               e->record.id, e->record.name, ToString(e->record.state));
  return {.accepted = true, .machine_id = e->record.id, .agent_restarted = restarted};
}

HeartbeatOutcome Fleet::Heartbeat(const HeartbeatReport& hb) {
  if (hb.machine_id.empty() || hb.machine_id.size() > kMaxShortString) {
    ++counters_.invalid["heartbeat"];
    return HeartbeatOutcome::kInvalid;
  }
  auto it = by_id_.find(hb.machine_id);
  if (it == by_id_.end() || !ExpectsHeartbeats(it->second->record.state)) {
    // Unknown, lost, terminated: the agent must register first, so its state is re-decided.
    ++counters_.heartbeats_unknown;
    return HeartbeatOutcome::kUnknownMachine;
  }
  Entry& e = *it->second;
  if (!ValidResources(hb.resources)) {
    ++counters_.invalid["heartbeat"];
    return HeartbeatOutcome::kInvalid;
  }
  // Heartbeats buffered through a disconnect may arrive after newer ones: keep the newest.
  if (hb.sequence != 0 && hb.sequence <= e.last_sequence) {
    ++counters_.heartbeats_stale;
    return HeartbeatOutcome::kApplied;
  }
  e.last_sequence = hb.sequence;
  const int64_t now = clock_.NowMs();
  ++counters_.heartbeats;
  e.record.resources = hb.resources;
  e.record.last_heartbeat_at_ms = now;
  e.deadline_ms = now + options_.heartbeat_ttl.count();
  e.dirty = true;
  return HeartbeatOutcome::kApplied;
}

void Fleet::RefreshDeadlines() {
  const int64_t deadline = clock_.NowMs() + options_.heartbeat_ttl.count();
  for (auto& e : machines_) e->deadline_ms = std::max(e->deadline_ms, deadline);
}

std::vector<std::string> Fleet::CheckLiveness() {
  const int64_t now = clock_.NowMs();
  std::vector<std::string> marked;
  for (auto& e : machines_) {
    if (!ExpectsHeartbeats(e->record.state) || now <= e->deadline_ms) continue;
    if (SetState(*e, MachineState::kLost, "no heartbeat within ttl")) {
      ++counters_.lost;
      marked.push_back(e->record.id);
    }
  }
  return marked;
}

bool Fleet::AgentStopped(std::string_view id, int64_t at_ms, std::string_view why) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return false;
  Entry& e = *it->second;
  if (!ExpectsHeartbeats(e.record.state) || at_ms < e.record.registered_at_ms) return false;
  if (!SetState(e, MachineState::kLost, why)) return false;
  ++counters_.lost;
  return true;
}

void Fleet::SetBusy(std::string_view id, bool busy) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return;
  MachineState& s = it->second->record.state;
  if (busy && s == MachineState::kReady) s = MachineState::kBusy;
  if (!busy && s == MachineState::kBusy) s = MachineState::kReady;
}

Result<bool> Fleet::FlushSome(size_t max_rows) {
  std::vector<Entry*> batch;
  size_t i = flush_cursor_;
  for (; i < machines_.size() && batch.size() < max_rows; ++i) {
    if (machines_[i]->dirty) batch.push_back(machines_[i].get());
  }
  std::vector<const MachineRecord*> rows;
  rows.reserve(batch.size());
  for (Entry* e : batch) rows.push_back(&e->record);
  if (auto r = store_.SaveHeartbeats(rows); !r) return r.error();
  for (Entry* e : batch) e->dirty = false;
  const bool done = i >= machines_.size();
  flush_cursor_ = done ? 0 : i;
  return done;
}

Result<void> Fleet::Flush() {
  for (;;) {
    auto done = FlushSome(machines_.size() + 1);
    if (!done) return done.error();
    if (*done) return {};
  }
}

std::vector<const MachineRecord*> Fleet::List() const {
  std::vector<const MachineRecord*> out;
  out.reserve(machines_.size());
  for (const auto& e : machines_) out.push_back(&e->record);
  return out;
}

const MachineRecord* Fleet::Find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &it->second->record;
}

const MachineRecord* Fleet::FindByName(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &it->second->record;
}

Result<const MachineRecord*> Fleet::AddProvisioned(MachineRecord m) {
  if (!ValidMachineName(m.name))
    return MakeError(ErrorCode::kBadRequest, "invalid machine name " + m.name);
  if (by_name_.count(m.name)) {
    return MakeError(ErrorCode::kConflict, "a machine named " + m.name + " exists already");
  }
  const int64_t now = clock_.NowMs();
  if (m.id.empty()) m.id = NewId("m");
  m.state = MachineState::kProvisioning;
  m.created_at_ms = now;
  if (auto r = store_.SaveMachine(m); !r) return r.error();
  auto owned = std::make_unique<Entry>();
  Entry* e = owned.get();
  e->record = std::move(m);
  machines_.push_back(std::move(owned));
  by_id_[e->record.id] = e;
  by_name_[e->record.name] = e;
  boost::json::object detail{
      {"name", e->record.name}, {"pool", e->record.pool}, {"backend", e->record.backend}};
  if (!e->record.spawned_from.empty()) detail["from_checkpoint"] = e->record.spawned_from;
  Record("machine.spawned", e->record.id, boost::json::serialize(detail));
  spdlog::info("fleet machine provisioning id={} name={} pool={} backend={}", e->record.id,
               e->record.name, e->record.pool, e->record.backend);
  return &e->record;
}

Result<void> Fleet::Transition(std::string_view id, MachineState to, std::string_view why) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end())
    return MakeError(ErrorCode::kNotFound, "no machine with id " + std::string(id));
  return SetState(*it->second, to, why);
}

Result<void> Fleet::SetInstance(std::string_view id, std::string instance) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end())
    return MakeError(ErrorCode::kNotFound, "no machine with id " + std::string(id));
  MachineRecord next = it->second->record;
  next.instance = std::move(instance);
  if (auto r = store_.SaveMachine(next); !r) return r.error();
  it->second->record.instance = std::move(next.instance);
  return {};
}

Result<void> Fleet::SetState(Entry& e, MachineState to, std::string_view why) {
  const MachineState from = e.record.state;
  if (!CanTransition(from, to)) {
    return MakeError(ErrorCode::kConflict, "machine " + e.record.id + " cannot go from " +
                                               std::string(ToString(from)) + " to " +
                                               std::string(ToString(to)));
  }
  MachineRecord next = e.record;
  next.state = to;
  if (auto r = store_.SaveMachine(next); !r) {
    spdlog::error("fleet cannot save machine {}: {}", next.id, r.error().message);
    return r.error();
  }
  e.record.state = to;
  e.dirty = false;
  boost::json::object detail{{"from", ToString(from)}, {"to", ToString(to)}, {"why", why}};
  Record("machine." + std::string(ToString(to)), e.record.id, boost::json::serialize(detail));
  spdlog::info("fleet machine state id={} name={} {} -> {} ({})", e.record.id, e.record.name,
               ToString(from), ToString(to), why);
  return {};
}

void Fleet::Record(std::string_view kind, const std::string& machine_id, std::string detail_json) {
  StoredEvent ev{0, clock_.NowMs(), std::string(kind), machine_id, std::move(detail_json)};
  if (auto r = store_.AppendEvent(ev); !r) {
    spdlog::error("fleet cannot record event {}: {}", kind, r.error().message);
  }
}

}  // namespace autovibe
