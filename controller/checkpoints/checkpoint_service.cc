#include "controller/checkpoints/checkpoint_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "common/core/time.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

void CountTransfer(CheckpointCounters& c, const Result<TransferReport>& report, double seconds) {
  if (!report) {
    ++c.transfer_failures;
    return;
  }
  ++c.transfers;
  c.transferred_bytes += report->sent_bytes;
  c.branch_seconds.Observe(seconds);
}

}  // namespace

CheckpointService::CheckpointService(CheckpointServiceDeps deps) : d_(std::move(deps)) {}

CheckpointService::~CheckpointService() { Stop(); }

void CheckpointService::Stop() {
  *alive_ = false;
  *cancelled_ = true;
  transfers_.stop();
  transfers_.join();
}

Result<void> CheckpointService::Load() {
  auto rows = d_.store->checkpoints().LoadCheckpoints();
  if (!rows) return rows.error();
  for (auto& c : *rows) {
    std::string id = c.id;
    if (!c.task_id.empty()) by_task_[c.task_id].insert(id);
    for (const auto& m : c.copies) by_machine_[m].insert(id);
    last_seq_ = std::max(last_seq_, c.received_seq);
    catalogue_.emplace(std::move(id), std::move(c));
  }
  return {};
}

void CheckpointService::AddCopy(CheckpointRecord& c, const std::string& machine_id) {
  c.copies.insert(machine_id);
  by_machine_[machine_id].insert(c.id);
}

void CheckpointService::RemoveCopy(CheckpointRecord& c, const std::string& machine_id) {
  c.copies.erase(machine_id);
  if (auto it = by_machine_.find(machine_id); it != by_machine_.end()) {
    it->second.erase(c.id);
    if (it->second.empty()) by_machine_.erase(it);
  }
}

void CheckpointService::Save(const CheckpointRecord& c) {
  d_.batch->Open();
  if (auto r = d_.store->checkpoints().SaveCheckpoint(c); !r) {
    spdlog::error("controller cannot save checkpoint {}: {}", c.id, r.error().message);
  }
}

CheckpointRecord* CheckpointService::Record(const CheckpointReport& m,
                                            const std::string& machine_id, uint32_t attempt,
                                            const TaskFacts* tasks) {
  const bool taken = tasks != nullptr;
  const std::string& root = m.root;
  auto refuse = [&](const std::string& why) -> CheckpointRecord* {
    spdlog::warn("controller refuses checkpoint {} from machine {}: {}", m.id, machine_id, why);
    return nullptr;
  };
  if (m.id.empty() || root.empty()) return refuse("no id or root");
  auto known = catalogue_.find(m.id);
  if (known != catalogue_.end() && !known->second.root.empty() && known->second.root != root) {
    return refuse("its root differs from the catalogue's");
  }
  if (known == catalogue_.end() && taken) {
    if (m.machine_id != machine_id) return refuse("it names machine " + m.machine_id);
    const std::string runs_on = m.task_id.empty() ? "" : tasks->MachineOf(m.task_id);
    if (!runs_on.empty() && runs_on != machine_id) {
      return refuse("task " + m.task_id + " runs on machine " + runs_on);
    }
  }
  if (known == catalogue_.end() && !taken) return refuse("a copy of a checkpoint never taken");
  auto [it, fresh] = catalogue_.try_emplace(m.id);
  CheckpointRecord& c = it->second;
  c.root = root;
  if (c.attempt == 0) c.attempt = attempt;  // a reply may come before the event that has it
  if (fresh) {
    c.id = m.id;
    c.machine_id = m.machine_id.empty() ? machine_id : m.machine_id;
    c.task_id = m.task_id;
    c.parent = m.parent;
    c.trigger = m.trigger;
    c.label = m.label;
    c.workspace = m.workspace;
    c.files = m.files;
    c.bytes = m.bytes;
    c.stored_bytes = m.stored_bytes;
    c.created_at_ms = m.created_at_ms;
    c.received_seq = ++last_seq_;
    if (!c.task_id.empty()) by_task_[c.task_id].insert(c.id);
    if (taken) {
      ++counters_.taken[c.trigger];
      counters_.stored_bytes += c.stored_bytes;
    }
  }
  AddCopy(c, machine_id);
  if (auto l = listing_.find(machine_id); l != listing_.end()) l->second.recorded.insert(c.id);
  Save(c);
  return &c;
}

void CheckpointService::ApplyCreated(const std::string& machine_id,
                                     const CheckpointCreatedEvent& ev, const TaskFacts& tasks) {
  const CheckpointRecord* c = Record(ev.checkpoint, machine_id, ev.attempt, &tasks);
  if (c != nullptr) Replicate(*c);
}

void CheckpointService::ApplyRemoved(const std::string& machine_id,
                                     const CheckpointsRemovedEvent& ev) {
  for (const auto& id : ev.checkpoint_ids) {
    auto it = catalogue_.find(id);
    if (it == catalogue_.end()) continue;
    RemoveCopy(it->second, machine_id);
    const bool last = it->second.copies.empty();
    AuditRecord r =
        Decision("checkpoint_retention", last ? "checkpoint.remove" : "checkpoint.remove_copy",
                 "checkpoint", id);
    r.details = DetailsJson({{"machine", machine_id}, {"task", it->second.task_id}});
    Audit(d_.audit, std::move(r));
    if (!last) {
      Save(it->second);
      continue;
    }
    Forget(id);
  }
}

void CheckpointService::MachineRegistered(const std::string& machine_id, const TaskFacts& tasks) {
  SyncPins(tasks, machine_id);
  // The agent answers with what its store holds when it answers, so every copy recorded
  // before (a checkpoint it took, one it imported) is in the list.
  ++listing_[machine_id].awaited;
  auto listed = [this, machine_id](Result<std::vector<std::string>> ids) {
    Listing& l = listing_[machine_id];
    if (!ids) {
      spdlog::info("machine {} did not list its checkpoints: {}", machine_id, ids.error().message);
    } else {
      std::set<std::string> held(ids->begin(), ids->end());
      held.insert(l.recorded.begin(), l.recorded.end());
      Reconcile(machine_id, held);
    }
    if (--l.awaited <= 0) listing_.erase(machine_id);
  };
  if (auto e = Unreachable(machine_id)) return listed(*e);
  d_.agents->ListHeld(machine_id, WhileAlive<std::vector<std::string>>(std::move(listed)));
}

void CheckpointService::Reconcile(const std::string& machine_id,
                                  const std::set<std::string>& held) {
  std::vector<std::string> gone;
  auto on_machine = by_machine_.find(machine_id);
  if (on_machine == by_machine_.end()) return;
  for (const auto& id : on_machine->second) {
    // A copy in flight is recorded when it lands, after this list was made.
    if (!held.contains(id) && !branching_.contains({id, machine_id})) gone.push_back(id);
  }
  if (gone.empty()) return;
  spdlog::warn("machine {} no longer holds {} checkpoints the catalogue listed on it (first: {})",
               machine_id, gone.size(), gone.front());
  for (const auto& id : gone) {
    CheckpointRecord& c = catalogue_.at(id);
    RemoveCopy(c, machine_id);
    if (c.copies.empty()) {
      Forget(id);
    } else {
      Save(c);
    }
  }
}

void CheckpointService::Forget(const std::string& id) {
  auto it = catalogue_.find(id);
  if (it == catalogue_.end()) return;
  const std::string parent = it->second.parent;
  for (const auto& m : std::set<std::string>(it->second.copies)) RemoveCopy(it->second, m);
  if (auto t = by_task_.find(it->second.task_id); t != by_task_.end()) {
    t->second.erase(id);
    if (t->second.empty()) by_task_.erase(t);
  }
  d_.batch->Open();
  if (auto r = d_.store->checkpoints().DeleteCheckpoint(id); !r) {
    spdlog::error("controller cannot delete checkpoint {}: {}", id, r.error().message);
  }
  catalogue_.erase(it);
  // As the agents' stores do: a child of a removed checkpoint hangs from its parent.
  for (auto& [cid, c] : catalogue_) {
    if (c.parent != id) continue;
    c.parent = parent;
    Save(c);
  }
}

void CheckpointService::Replicate(const CheckpointRecord& c) {
  if (d_.replicas <= 0 || c.task_id.empty() || c.trigger == "before_restore") return;
  auto [it, idle] = replicating_.try_emplace(c.task_id);
  if (!idle) {
    it->second = c.id;  // its turn comes when the copy in flight is done
    return;
  }
  ReplicateNext(c.task_id, c.id);
}

void CheckpointService::ReplicateNext(const std::string& task_id, const std::string& id) {
  const CheckpointRecord* c = Find(id);
  const std::string target = c == nullptr ? "" : ReplicaTarget(*c);
  if (target.empty()) {
    replicating_.erase(task_id);
    return;
  }
  replicating_[task_id].clear();
  Branch(id, target, [this, task_id, id, target](Result<BranchOutcome> r) {
    if (!r) {
      spdlog::warn("checkpoint {} of task {} not copied onto machine {}: {}", id, task_id, target,
                   r.error().message);
    }
    auto it = replicating_.find(task_id);
    if (it == replicating_.end()) return;
    // The newest that came meanwhile, else this one again: it may want more copies.
    std::string next = it->second.empty() ? (r ? id : "") : it->second;
    if (next.empty()) {
      replicating_.erase(it);
      return;
    }
    ReplicateNext(task_id, next);
  });
}

std::string CheckpointService::MachineWithout(const CheckpointRecord& c) const {
  const CheckpointRecord* parent = c.parent.empty() ? nullptr : Find(c.parent);
  std::string best;
  int best_score = -1;
  for (const MachineRecord* m : d_.fleet->List()) {
    if (m->state != MachineState::kReady && m->state != MachineState::kBusy) continue;
    if (c.copies.contains(m->id)) continue;
    const int score = (m->state == MachineState::kReady ? 2 : 0) +
                      (parent != nullptr && parent->copies.contains(m->id) ? 1 : 0);
    if (score > best_score) {
      best = m->id;
      best_score = score;
    }
  }
  return best;
}

std::string CheckpointService::ReplicaTarget(const CheckpointRecord& c) const {
  if (ReachableCopies(c).size() > static_cast<size_t>(d_.replicas)) return "";
  return MachineWithout(c);
}

std::vector<const CheckpointRecord*> CheckpointService::List(const CheckpointFilter& f) const {
  std::vector<const CheckpointRecord*> out;
  for (const auto& [id, c] : catalogue_) {
    if (!f.machine_id.empty() && c.machine_id != f.machine_id && !c.copies.contains(f.machine_id)) {
      continue;
    }
    if (!f.task_id.empty() && c.task_id != f.task_id) continue;
    out.push_back(&c);
  }
  std::sort(out.begin(), out.end(),
            [](const auto* a, const auto* b) { return a->received_seq < b->received_seq; });
  return out;
}

const CheckpointRecord* CheckpointService::Find(std::string_view id) const {
  auto it = catalogue_.find(id);
  return it == catalogue_.end() ? nullptr : &it->second;
}

std::vector<std::string> CheckpointService::Children(std::string_view id) const {
  std::vector<std::string> out;
  for (const auto& [cid, c] : catalogue_) {
    if (c.parent == id) out.push_back(cid);
  }
  return out;
}

bool CheckpointService::Reachable(const std::string& machine_id) const {
  const MachineRecord* m = d_.fleet->Find(machine_id);
  return m != nullptr && (m->state == MachineState::kReady || m->state == MachineState::kBusy ||
                          m->state == MachineState::kDraining);
}

std::vector<std::string> CheckpointService::ReachableCopies(const CheckpointRecord& c) const {
  std::vector<std::string> out;
  for (const auto& m : c.copies) {
    if (Reachable(m)) out.push_back(m);
  }
  return out;
}

const CheckpointRecord* CheckpointService::NewestReachable(std::string_view task_id) const {
  auto ids = by_task_.find(task_id);
  if (ids == by_task_.end()) return nullptr;
  const CheckpointRecord* newest = nullptr;
  for (const auto& id : ids->second) {
    const CheckpointRecord* c = Find(id);
    if (c == nullptr || c->trigger == "before_restore") continue;
    // In the order the controller heard of them: an agent's clock (or a forged date) never
    // makes an old checkpoint the one a task resumes from.
    if (newest != nullptr && c->received_seq < newest->received_seq) continue;
    if (!ReachableCopies(*c).empty()) newest = c;
  }
  return newest;
}

std::string CheckpointService::StartingPoint(const TaskRecord& t) const {
  if (t.attempts > 1) {
    if (const CheckpointRecord* c = NewestReachable(t.id)) return c->id;
  }
  return t.spec.from_checkpoint;
}

std::set<std::string> CheckpointService::Needed(const TaskFacts& tasks) const {
  std::set<std::string> out;
  for (auto& id : tasks.StartingPoints()) out.insert(std::move(id));
  // Only tasks that have checkpoints can resume from one.
  for (const auto& [task, ids] : by_task_) {
    if (!tasks.Unfinished(task)) continue;
    if (const CheckpointRecord* c = NewestReachable(task)) out.insert(c->id);
  }
  return out;
}

bool CheckpointService::IsNeeded(const CheckpointRecord& c, const TaskFacts& tasks) const {
  if (tasks.IsStartingPoint(c.id)) return true;
  return !c.task_id.empty() && tasks.Unfinished(c.task_id) && NewestReachable(c.task_id) == &c;
}

void CheckpointService::SyncPins(const TaskFacts& tasks, const std::string& machine_id) {
  std::map<std::string, std::vector<std::string>> by_machine;
  if (!machine_id.empty()) {
    // One machine (it registered): what it holds, not the whole catalogue or fleet.
    if (!Reachable(machine_id)) return;
    auto& pins = by_machine[machine_id];
    if (auto held = by_machine_.find(machine_id); held != by_machine_.end()) {
      for (const auto& id : held->second) {
        if (const CheckpointRecord* c = Find(id); c != nullptr && IsNeeded(*c, tasks))
          pins.push_back(id);
      }
    }
  } else {
    for (const MachineRecord* m : d_.fleet->List()) {
      if (Reachable(m->id)) by_machine[m->id];
    }
    for (const auto& id : Needed(tasks)) {
      const CheckpointRecord* c = Find(id);
      if (c == nullptr) continue;
      for (const auto& m : c->copies) {
        if (auto it = by_machine.find(m); it != by_machine.end()) it->second.push_back(id);
      }
    }
  }
  // Fire and forget: sent again on the next round.
  for (const auto& [machine, ids] : by_machine) d_.agents->Pin(machine, ids);
}

std::optional<Error> CheckpointService::Unreachable(const std::string& machine_id) const {
  if (Reachable(machine_id)) return std::nullopt;
  const MachineRecord* m = d_.fleet->Find(machine_id);
  return MakeError(ErrorCode::kUnavailable,
                   m == nullptr ? "no machine " + machine_id
                                : "machine " + m->name + " is " + std::string(ToString(m->state)));
}

void CheckpointService::Create(const std::string& machine_id, const std::string& task_id,
                               const std::string& label, const TaskFacts& tasks,
                               Done<std::vector<CheckpointRecord>> done) {
  auto taken = [this, machine_id, tasks = &tasks, done](Result<std::vector<CheckpointReport>> r) {
    if (!r) return done(r.error());
    std::vector<CheckpointRecord> out;
    // Also reported as events; recorded here so the answer and the catalogue agree.
    for (const auto& m : *r) {
      if (const CheckpointRecord* c = Record(m, machine_id, 0, tasks)) out.push_back(*c);
    }
    done(std::move(out));
  };
  if (auto e = Unreachable(machine_id)) return done(*e);
  d_.agents->TakeCheckpoint(machine_id, task_id, label,
                            WhileAlive<std::vector<CheckpointReport>>(std::move(taken)));
}

void CheckpointService::Restore(const std::string& id, const std::string& task_id,
                                const TaskFacts& tasks, Done<RestoreOutcome> done) {
  const CheckpointRecord* c = Find(id);
  if (c == nullptr) return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + id));
  const std::string task = task_id.empty() ? c->task_id : task_id;
  if (task.empty()) {
    return done(
        MakeError(ErrorCode::kBadRequest, "checkpoint " + id + " belongs to no task: name one"));
  }
  // In place: on the machine that holds the task's workspace, where the task ran last; the
  // checkpoint must be there (else branch it there first).
  std::string machine = tasks.MachineOf(task);
  if (machine.empty()) machine = c->machine_id;
  if (!c->copies.contains(machine)) {
    return done(MakeError(ErrorCode::kConflict, "checkpoint " + id + " is not on machine " +
                                                    machine + ", where task " + task +
                                                    "'s workspace is: branch it "
                                                    "there first"));
  }
  if (auto e = Unreachable(machine)) return done(*e);
  auto restored = [this, id, task, machine, tasks = &tasks, done,
                   asked =
                       std::chrono::steady_clock::now()](Result<std::vector<CheckpointReport>> r) {
    restoring_.erase(restoring_.find(task));
    if (!r) return done(r.error());
    counters_.restore_seconds.Observe(SecondsSince(asked));
    RestoreOutcome out{.checkpoint_id = id, .task_id = task, .machine_id = machine};
    for (const auto& m : *r) {
      if (const CheckpointRecord* c = Record(m, machine, 0, tasks)) out.before = *c;
    }
    done(std::move(out));
  };
  restoring_.insert(task);
  d_.agents->Restore(machine, id, task,
                     WhileAlive<std::vector<CheckpointReport>>(std::move(restored)));
}

void CheckpointService::Diff(const std::string& from, const std::string& to,
                             Done<CheckpointDiff> done) {
  const CheckpointRecord* a = Find(from);
  const CheckpointRecord* b = Find(to);
  if (a == nullptr || b == nullptr) {
    return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + (a == nullptr ? from : to)));
  }
  std::string machine;
  for (const auto& m : ReachableCopies(*a)) {
    if (b->copies.contains(m)) machine = m;
  }
  if (machine.empty()) {
    return done(MakeError(ErrorCode::kConflict, "no reachable machine holds both " + from +
                                                    " and " + to +
                                                    ": branch one onto the other's machine first"));
  }
  d_.agents->Diff(machine, from, to, WhileAlive<CheckpointDiff>(std::move(done)));
}

void CheckpointService::Delete(const std::string& id, const TaskFacts& tasks,
                               Done<std::vector<std::string>> done) {
  const CheckpointRecord* c = Find(id);
  if (c == nullptr) return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + id));
  if (IsNeeded(*c, tasks)) {
    return done(MakeError(ErrorCode::kConflict,
                          "a task that has not finished starts or resumes from "
                          "checkpoint " +
                              id));
  }
  // Copies on machines that are gone for good go with the catalogue entry.
  std::vector<std::string> gone;
  for (const auto& m : c->copies) {
    const MachineRecord* rec = d_.fleet->Find(m);
    if (rec == nullptr || rec->state == MachineState::kTerminated ||
        rec->state == MachineState::kFailed) {
      gone.push_back(m);
    }
  }
  auto copies = ReachableCopies(*c);
  if (copies.size() + gone.size() != c->copies.size()) {
    return done(MakeError(ErrorCode::kConflict, "a machine holding checkpoint " + id +
                                                    " cannot be reached now; try again later"));
  }
  DeleteCopies(id, std::move(copies), 0, std::move(done));
}

// Deletes the checkpoint from copies[i..] one after another, then from the catalogue.
void CheckpointService::DeleteCopies(const std::string& id, std::vector<std::string> copies,
                                     size_t i, Done<std::vector<std::string>> done) {
  if (i == copies.size()) {
    Forget(id);
    return done(std::vector<std::string>{id});
  }
  const std::string machine = copies[i];
  auto deleted = [this, id, copies = std::move(copies), i,
                  done = std::move(done)](Result<void> r) mutable {
    if (!r && r.error().code != ErrorCode::kNotFound) return done(r.error());
    if (auto it = catalogue_.find(id); it != catalogue_.end()) {
      RemoveCopy(it->second, copies[i]);
      Save(it->second);
    }
    DeleteCopies(id, std::move(copies), i + 1, std::move(done));
  };
  if (auto e = Unreachable(machine)) return deleted(*e);
  d_.agents->Delete(machine, id, WhileAlive<void>(std::move(deleted)));
}

void CheckpointService::Verify(const std::string& id, Done<CheckpointRecord> done) {
  const CheckpointRecord* c = Find(id);
  if (c == nullptr) return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + id));
  auto copies = ReachableCopies(*c);
  if (copies.empty()) {
    return done(MakeError(ErrorCode::kUnavailable,
                          "no machine holding checkpoint " + id + " can be reached now"));
  }
  auto verified = [this, id, done](Result<void> r) {
    if (!r) return done(r.error());
    auto it = catalogue_.find(id);
    if (it == catalogue_.end()) return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + id));
    it->second.verified_at_ms = UnixNowNs() / 1'000'000;
    Save(it->second);
    done(it->second);
  };
  d_.agents->Verify(copies.front(), id, WhileAlive<void>(std::move(verified)));
}

void CheckpointService::Branch(const std::string& id, const std::string& machine_id,
                               Done<BranchOutcome> done) {
  const CheckpointRecord* c = Find(id);
  if (c == nullptr) return done(MakeError(ErrorCode::kNotFound, "no checkpoint " + id));
  if (machine_id.empty()) {
    const std::string other = MachineWithout(*c);
    if (other.empty()) {
      return done(MakeError(
          ErrorCode::kConflict,
          "every machine that takes work (ready or busy) already holds checkpoint " + id));
    }
    return Branch(id, other, std::move(done));
  }
  if (!Reachable(machine_id)) {
    return done(
        MakeError(ErrorCode::kUnavailable, "machine " + machine_id + " cannot be reached now"));
  }
  if (c->copies.contains(machine_id)) {
    return done(BranchOutcome{.checkpoint = *c, .machine_id = machine_id});
  }
  auto sources = ReachableCopies(*c);
  if (sources.empty()) {
    return done(MakeError(ErrorCode::kUnavailable,
                          "no machine holding checkpoint " + id + " can be reached now"));
  }
  auto key = std::make_pair(id, machine_id);
  auto [it, first] = branching_.try_emplace(key);
  it->second.push_back(std::move(done));
  if (!first) return;
  TransferRequest r{.checkpoint_id = id,
                    .from_machine = sources.front(),
                    .to_machine = machine_id,
                    .expected_root = c->root,
                    .cancelled = cancelled_};
  spdlog::info("checkpoint {} branching from machine {} onto {}", id, r.from_machine, machine_id);
  asio::post(transfers_, [this, r, key, agents = d_.agents, ioc = d_.ioc, alive = alive_] {
    const auto started = std::chrono::steady_clock::now();
    auto report = agents->Transfer(r);
    const double seconds = SecondsSince(started);
    asio::post(*ioc, [this, r, key, alive, seconds, report = std::move(report)]() {
      if (!*alive) return;
      auto waiting = std::move(branching_[key]);
      branching_.erase(key);
      CountTransfer(counters_, report, seconds);
      if (!report) {
        spdlog::warn("checkpoint {} could not branch onto {}: {}", r.checkpoint_id, r.to_machine,
                     report.error().message);
        for (auto& w : waiting) w(report.error());
        return;
      }
      spdlog::info("checkpoint {} is on machine {}: sent {} of {} objects, {} bytes",
                   r.checkpoint_id, r.to_machine, report->sent_objects, report->objects,
                   report->sent_bytes);
      const CheckpointRecord* c = Record(report->checkpoint, r.to_machine, 0, nullptr);
      const bool deleted = c == nullptr && Find(r.checkpoint_id) == nullptr;
      if (deleted && !Unreachable(r.to_machine)) {
        // Deleted while it travelled: the new copy goes too.
        d_.agents->Delete(r.to_machine, r.checkpoint_id, [](Result<void>) {});
      }
      for (auto& w : waiting) {
        if (deleted) {
          w(MakeError(ErrorCode::kNotFound,
                      "checkpoint " + r.checkpoint_id + " was deleted while it was being copied"));
          continue;
        }
        if (c == nullptr) {
          w(MakeError(ErrorCode::kConflict,
                      "the copy of " + r.checkpoint_id + " differs from the catalogue's"));
          continue;
        }
        w(BranchOutcome{.checkpoint = *c, .machine_id = r.to_machine, .transfer = *report});
      }
    });
  });
}

}  // namespace autovibe
