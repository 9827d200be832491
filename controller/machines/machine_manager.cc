#include "controller/machines/machine_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "common/core/ids.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr int64_t kFirstBackoffMs = 5'000;
constexpr int64_t kMaxBackoffMs = 5 * 60'000;

int64_t Ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

bool Gone(MachineState s) { return s == MachineState::kTerminated || s == MachineState::kFailed; }

bool Starting(MachineState s) {
  return s == MachineState::kProvisioning || s == MachineState::kBooting;
}

// An audit record of what the manager decided about machine `id` by itself under `rule`.
void AuditMachine(AuditLog* log, std::string_view rule, std::string action, const std::string& id,
                  const std::string& pool, const std::string& why, std::string error = "") {
  AuditRecord r = Decision(rule, std::move(action), "machine", id);
  r.details = DetailsJson({{"pool", pool}, {"why", why}});
  if (!error.empty()) {
    r.result = "error";
    r.error = std::move(error);
  }
  Audit(log, std::move(r));
}

}  // namespace

MachineManager::MachineManager(MachineManagerDeps deps, std::vector<PoolConfig> pools,
                               std::map<std::string, std::unique_ptr<Provisioner>> provisioners)
    : d_(std::move(deps)), provisioners_(std::move(provisioners)) {
  for (PoolConfig& c : pools) {
    auto p = std::make_unique<PoolState>();
    auto it = provisioners_.find(c.name);
    p->provisioner = it == provisioners_.end() ? nullptr : it->second.get();
    p->config = std::move(c);
    pools_.push_back(std::move(p));
  }
}

MachineManager::~MachineManager() { Stop(); }

void MachineManager::Stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  work_.stop();
  work_.join();
}

MachineManager::PoolState* MachineManager::Pool(const std::string& name) {
  for (auto& p : pools_) {
    if (p->config.name == name) return p.get();
  }
  return nullptr;
}

const MachineManager::PoolState* MachineManager::Pool(const std::string& name) const {
  return const_cast<MachineManager*>(this)->Pool(name);
}

const PoolConfig* MachineManager::FindPool(const std::string& name) const {
  const PoolState* p = Pool(name);
  return p == nullptr ? nullptr : &p->config;
}

Provisioner* MachineManager::ProvisionerOf(const std::string& pool) const {
  const PoolState* p = Pool(pool);
  return p == nullptr ? nullptr : p->provisioner;
}

bool MachineManager::Live(const MachineRecord& m) const {
  return !Gone(m.state) && !terminating_.count(m.id);
}

std::vector<PoolStatus> MachineManager::Pools() const {
  std::vector<PoolStatus> out;
  for (const auto& p : pools_) {
    PoolStatus s{&p->config, 0, 0, p->paused_until_ms, p->last_error};
    for (const MachineRecord* m : d_.fleet->List()) {
      if (m->pool != p->config.name || !Live(*m)) continue;
      ++s.live;
      if (Starting(m->state)) ++s.starting;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void MachineManager::Load() {
  const int64_t now = d_.clock->NowMs();
  if (auto loaded = d_.store->LoadMachineCheckpoints(); !loaded) {
    spdlog::error("machines cannot load machine checkpoints: {}", loaded.error().message);
  } else {
    for (MachineCheckpointRecord& c : *loaded) {
      if (c.state == "creating") {
        c.state = "failed";
        c.error = "the controller restarted while it was being taken";
        if (auto r = d_.store->SaveMachineCheckpoint(c); !r) {
          spdlog::error("machines: {}", r.error().message);
        }
      }
      checkpoints_.push_back(std::make_unique<MachineCheckpointRecord>(std::move(c)));
    }
  }
  for (const MachineRecord* m : d_.fleet->List()) {
    const PoolState* p = Pool(m->pool);
    if (m->pool.empty() || Gone(m->state)) continue;
    if (p == nullptr) {
      spdlog::warn(
          "machine {} ({}) belongs to pool {}, which the config no longer has; it "
          "stays until terminated by hand",
          m->name, m->id, m->pool);
      continue;
    }
    if (m->state == MachineState::kProvisioning) {
      // The controller stopped while the backend was creating it: whatever exists is removed.
      Fail(*m, "the controller restarted while the machine was being created");
    } else if (m->state == MachineState::kBooting) {
      boot_deadline_[m->id] = now + Ms(p->config.boot_timeout);
    }
  }
}

std::string MachineManager::NextName(PoolState& p) {
  for (;; ++p.next_seq) {
    std::string name = p.config.name + "-" + std::to_string(p.next_seq);
    if (d_.fleet->FindByName(name) == nullptr) {
      ++p.next_seq;
      return name;
    }
  }
}

Result<const MachineRecord*> MachineManager::Spawn(const SpawnRequest& req) {
  PoolState* p = nullptr;
  const MachineCheckpointRecord* from = nullptr;
  if (!req.from_checkpoint.empty()) {
    from = FindCheckpoint(req.from_checkpoint);
    if (from == nullptr) {
      return MakeError(ErrorCode::kNotFound, "no machine checkpoint " +
                                                 req.from_checkpoint.substr(0, 80) +
                                                 " (machines start from machine checkpoints, not "
                                                 "workspace ones)");
    }
    if (from->state != "ready") {
      return MakeError(ErrorCode::kConflict,
                       "machine checkpoint " + from->id + " is " + from->state);
    }
    p = Pool(req.pool.empty() ? from->pool : req.pool);
    if (p == nullptr) {
      return MakeError(ErrorCode::kNotFound,
                       "no pool named " + (req.pool.empty() ? from->pool : req.pool));
    }
    if (p->config.backend != from->backend) {
      return MakeError(ErrorCode::kBadRequest,
                       "machine checkpoint " + from->id + " was taken by the " + from->backend +
                           " backend; pool " + p->config.name + " uses " + p->config.backend);
    }
  } else if (!req.pool.empty()) {
    p = Pool(req.pool);
    if (p == nullptr)
      return MakeError(ErrorCode::kNotFound, "no pool named " + req.pool.substr(0, 80));
  } else {
    for (auto& candidate : pools_) {
      if (!req.backend.empty() && candidate->config.backend != req.backend) continue;
      if (p != nullptr && req.backend.empty()) {
        return MakeError(ErrorCode::kBadRequest,
                         "the controller has several pools; say which (pool)");
      }
      if (p == nullptr) p = candidate.get();
    }
    if (p == nullptr) {
      return MakeError(ErrorCode::kNotFound,
                       req.backend.empty()
                           ? "the controller has no pools: add a [[pool]] to its config"
                           : "no pool uses the " + req.backend.substr(0, 40) + " backend");
    }
  }
  if (p->provisioner == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "pool " + p->config.name + " has no working provisioner");
  }
  uint32_t live = 0;
  for (const MachineRecord* m : d_.fleet->List()) {
    if (m->pool == p->config.name && Live(*m)) ++live;
  }
  if (live >= p->config.max) {
    return MakeError(ErrorCode::kConflict, "pool " + p->config.name + " is at its max of " +
                                               std::to_string(p->config.max) + " machines");
  }

  MachineRecord rec;
  rec.id = NewId("m");
  rec.name = NextName(*p);
  rec.backend = p->config.backend;
  rec.pool = p->config.name;
  rec.labels = p->config.labels;
  rec.tools = p->config.tools;
  rec.task_slots = p->config.task_slots;
  if (from != nullptr) rec.spawned_from = from->id;
  MachineLaunch launch;
  launch.machine_id = rec.id;
  launch.name = rec.name;
  launch.pool = rec.pool;
  if (from != nullptr) launch.from_snapshot = from->ref;
  launch.agent.nats_url = d_.nats_url;
  launch.agent.nats_ca_pem = d_.nats_ca_pem;
  launch.agent.subject_prefix = d_.subject_prefix;
  launch.agent.labels = p->config.labels;
  if (d_.credentials) {
    auto creds = d_.credentials(rec);
    if (!creds) return creds.error();
    launch.agent.nats_user = creds->first;
    launch.agent.nats_password = creds->second;
  }
  d_.open_batch();
  auto added = d_.fleet->AddProvisioned(std::move(rec));
  if (!added) return added.error();
  const MachineRecord* m = *added;
  boot_deadline_[m->id] = d_.clock->NowMs() + Ms(p->config.boot_timeout);
  ++spawns_.started[{m->pool, m->backend}];
  spdlog::info("machines spawning {} ({}) in pool {}: {}", m->name, m->id, m->pool, req.why);
  Provisioner* prov = p->provisioner;
  asio::post(work_, [this, prov, launch = std::move(launch)] {
    Result<std::string> instance = std::string();
    if (!launch.agent.nats_user.empty() && d_.await_login) {
      if (auto r = d_.await_login(launch.agent); !r) instance = r.error();
    }
    if (instance) instance = prov->Create(launch);
    asio::post(*d_.ioc, [this, id = launch.machine_id, instance = std::move(instance)]() mutable {
      Created(id, std::move(instance));
    });
  });
  return m;
}

void MachineManager::Created(const std::string& id, Result<std::string> instance) {
  const MachineRecord* m = d_.fleet->Find(id);
  if (m == nullptr || stopped_) return;
  PoolState* p = Pool(m->pool);
  d_.open_batch();
  if (!instance) {
    const std::string why =
        "the " + m->backend + " backend could not create it: " + instance.error().message;
    if (p != nullptr) SpawnFailed(*p, instance.error().message);
    ++spawns_.failed[{m->pool, m->backend}];
    AuditMachine(d_.audit, "spawn_failed", "machine.failed", id, m->pool, why);
    terminating_.erase(id);
    boot_deadline_.erase(id);
    if (!Gone(m->state)) {
      if (auto r = d_.fleet->Transition(id, MachineState::kFailed, why); !r) {
        spdlog::error("machines: {}", r.error().message);
      }
      d_.listener->MachineDown(*d_.fleet->Find(id), MachineDownCause::kFailed, why);
    }
    return;
  }
  if (auto r = d_.fleet->SetInstance(id, *instance); !r) {
    spdlog::error("machines cannot record the instance of {}: {}", id, r.error().message);
  }
  m = d_.fleet->Find(id);
  if (terminating_.count(id) || Gone(m->state)) {
    // Terminated (or failed past its deadline) while it was being created.
    Destroy(*m, "terminated while it was being created", !Gone(m->state));
    return;
  }
  if (m->state == MachineState::kProvisioning) {
    if (auto r = d_.fleet->Transition(id, MachineState::kBooting, "instance " + *instance); !r) {
      spdlog::error("machines: {}", r.error().message);
    }
  }
  Changed(id);
}

void MachineManager::SpawnFailed(PoolState& p, const std::string& error) {
  p.backoff_ms = p.backoff_ms == 0 ? kFirstBackoffMs : std::min(p.backoff_ms * 2, kMaxBackoffMs);
  p.paused_until_ms = d_.clock->NowMs() + p.backoff_ms;
  p.last_error = error;
  spdlog::warn("machines: pool {} could not create a machine ({}); no new machine for {} s",
               p.config.name, error, p.backoff_ms / 1000);
}

void MachineManager::Registered(const MachineRecord& m) {
  // A machine coming up for the first time (not one registering again).
  if (boot_deadline_.erase(m.id) > 0 && m.created_at_ms > 0) {
    spawns_.seconds[m.backend].Observe(
        static_cast<double>(std::max<int64_t>(0, d_.clock->NowMs() - m.created_at_ms)) / 1000);
  }
  idle_since_[m.id] = d_.clock->NowMs();
  if (PoolState* p = Pool(m.pool)) {
    p->backoff_ms = 0;
    p->paused_until_ms = 0;
    p->last_error.clear();
  }
  if (terminating_.count(m.id)) SendCommand(m.id, true);
}

void MachineManager::Fail(const MachineRecord& m, const std::string& why) {
  const std::string id = m.id;
  d_.open_batch();
  if (auto r = d_.fleet->Transition(id, MachineState::kFailed, why); !r) {
    spdlog::error("machines: {}", r.error().message);
  }
  const MachineRecord& now = *d_.fleet->Find(id);
  AuditMachine(d_.audit, "spawn_failed", "machine.failed", id, now.pool, why);
  d_.listener->MachineDown(now, MachineDownCause::kFailed, why);
  boot_deadline_.erase(id);
  if (PoolState* p = Pool(now.pool)) SpawnFailed(*p, why);
  ++spawns_.failed[{now.pool, now.backend}];
  Destroy(now, why, false);
}

Result<const MachineRecord*> MachineManager::Drain(const std::string& id) {
  const MachineRecord* m = d_.fleet->Find(id);
  if (m == nullptr)
    return MakeError(ErrorCode::kNotFound, "no machine with id " + id.substr(0, 80));
  if (Gone(m->state) || terminating_.count(id)) {
    return MakeError(ErrorCode::kConflict,
                     "machine " + m->name + " is " +
                         (terminating_.count(id) ? std::string("being terminated")
                                                 : std::string(ToString(m->state))));
  }
  if (m->state == MachineState::kDraining) return m;
  if (Starting(m->state)) {
    // Nothing runs on it yet: draining it is retiring it.
    return Terminate(id, "drained before it came up");
  }
  d_.open_batch();
  if (auto r = d_.fleet->Transition(id, MachineState::kDraining, "drain requested"); !r) {
    return r.error();
  }
  Changed(id);
  SendCommand(id, false);
  return d_.fleet->Find(id);
}

Result<const MachineRecord*> MachineManager::Terminate(const std::string& id,
                                                       const std::string& why) {
  const MachineRecord* m = d_.fleet->Find(id);
  if (m == nullptr)
    return MakeError(ErrorCode::kNotFound, "no machine with id " + id.substr(0, 80));
  if (Gone(m->state) || terminating_.count(id)) return m;
  d_.open_batch();
  if (m->state == MachineState::kReady || m->state == MachineState::kBusy ||
      m->state == MachineState::kLost) {
    // No new task while it goes.
    if (auto r = d_.fleet->Transition(id, MachineState::kDraining, why); r) Changed(id);
    m = d_.fleet->Find(id);
  }
  const PoolState* p = Pool(m->pool);
  if (m->pool.empty() || p == nullptr || p->provisioner == nullptr) {
    // Nobody here made it: its agent is told to stop, and the machine leaves the fleet.
    SendCommand(id, true);
    if (auto r = d_.fleet->Transition(id, MachineState::kTerminated, why); !r) return r.error();
    d_.listener->MachineDown(*d_.fleet->Find(id), MachineDownCause::kTerminated, why);
    return d_.fleet->Find(id);
  }
  terminating_.insert(id);
  boot_deadline_.erase(id);
  if (m->state == MachineState::kProvisioning && m->instance.empty()) {
    // Its creation is under way; Created() removes it when it returns.
    return m;
  }
  Destroy(*m, why, true);
  return d_.fleet->Find(id);
}

void MachineManager::Destroy(const MachineRecord& m, const std::string& why, bool then_terminate) {
  const PoolState* p = Pool(m.pool);
  if (p == nullptr || p->provisioner == nullptr) return;
  terminating_.insert(m.id);
  spdlog::info("machines removing {} ({}): {}", m.name, m.id, why);
  asio::post(work_, [this, prov = p->provisioner, id = m.id, name = m.name, instance = m.instance,
                     why, then_terminate] {
    auto r = prov->Destroy(name, instance);
    asio::post(*d_.ioc, [this, id, why, r = std::move(r), then_terminate]() mutable {
      Destroyed(id, why, std::move(r), then_terminate);
    });
  });
}

void MachineManager::Destroyed(const std::string& id, const std::string& why, Result<void> r,
                               bool then_terminate) {
  if (stopped_) return;
  terminating_.erase(id);
  idle_since_.erase(id);
  const MachineRecord* m = d_.fleet->Find(id);
  if (m == nullptr) return;
  if (!r) {
    // Its instance may still run (and cost): try again later rather than forget it.
    int64_t& backoff = destroy_backoff_ms_[id];
    backoff = backoff == 0 ? kFirstBackoffMs : std::min(backoff * 2, kMaxBackoffMs);
    destroy_retry_at_[id] = {d_.clock->NowMs() + backoff, why, then_terminate};
    spdlog::error("machines cannot remove {} ({}), retrying in {} s: {}", m->name, id,
                  backoff / 1000, r.error().message);
    return;
  }
  destroy_backoff_ms_.erase(id);
  // A Proxmox machine checkpoint is a snapshot of the VM itself: it went with the VM.
  for (auto& c : checkpoints_) {
    if (c->machine_id != id || c->backend != "proxmox" || c->state != "ready") continue;
    c->state = "failed";
    c->error = "the VM it was taken of was deleted";
    d_.open_batch();
    if (auto saved = d_.store->SaveMachineCheckpoint(*c); !saved) {
      spdlog::error("machines: {}", saved.error().message);
    }
  }
  if (!then_terminate || Gone(m->state)) return;
  d_.open_batch();
  const std::string& detail = why;
  if (auto t = d_.fleet->Transition(id, MachineState::kTerminated, detail); !t) {
    spdlog::error("machines: {}", t.error().message);
    return;
  }
  d_.listener->MachineDown(*d_.fleet->Find(id), MachineDownCause::kTerminated, detail);
}

void MachineManager::SendCommand(const std::string& machine_id, bool shutdown) {
  if (shutdown) {
    d_.agents->Shutdown(machine_id);
  } else {
    d_.agents->Drain(machine_id);
  }
}

Result<const MachineCheckpointRecord*> MachineManager::CheckpointMachine(
    const std::string& id_or_name, CheckpointDone done) {
  const MachineRecord* m = d_.fleet->Find(id_or_name);
  if (m == nullptr) m = d_.fleet->FindByName(id_or_name);
  if (m == nullptr)
    return MakeError(ErrorCode::kNotFound, "no machine " + id_or_name.substr(0, 80));
  const PoolState* p = Pool(m->pool);
  if (p == nullptr || p->provisioner == nullptr || !p->provisioner->CanSnapshot()) {
    return MakeError(ErrorCode::kBadRequest,
                     "machine " + m->name + " (" + m->backend +
                         ") cannot take machine checkpoints: only machines of "
                         "docker, libvirt and proxmox pools can");
  }
  if (m->instance.empty() || Gone(m->state) || terminating_.count(m->id)) {
    return MakeError(ErrorCode::kConflict,
                     "machine " + m->name + " is " + std::string(ToString(m->state)));
  }
  auto c = std::make_unique<MachineCheckpointRecord>();
  c->id = NewId("cp");
  c->machine_id = m->id;
  c->pool = m->pool;
  c->backend = m->backend;
  c->state = "creating";
  c->created_at_ms = d_.clock->NowMs();
  d_.open_batch();
  if (auto r = d_.store->SaveMachineCheckpoint(*c); !r) return r.error();
  const MachineCheckpointRecord* out = c.get();
  checkpoints_.push_back(std::move(c));
  spdlog::info("machines taking machine checkpoint {} of {}", out->id, m->name);
  auto snapshot = [this, prov = p->provisioner, id = out->id, name = m->name,
                   instance = m->instance, done = std::move(done)] {
    asio::post(work_, [this, prov, id, name, instance, done] {
      auto ref = prov->Snapshot(name, instance, id);
      asio::post(*d_.ioc, [this, id, ref = std::move(ref), done]() mutable {
        CheckpointTaken(id, std::move(ref), done);
      });
    });
  };
  if (m->state != MachineState::kReady && m->state != MachineState::kBusy &&
      m->state != MachineState::kDraining) {
    snapshot();
    return out;
  }
  // What the machine holds in memory for its disks is written out first; an agent that does
  // not answer in time gets a crash-consistent checkpoint (as after a power cut).
  d_.agents->SyncDisks(m->id, std::chrono::seconds(30),
                       [alive = alive_, name = m->name, snapshot](Result<void> synced) {
                         if (!synced) {
                           spdlog::warn("machines: {} did not sync its disks: {}", name,
                                        synced.error().message);
                         }
                         if (*alive) snapshot();
                       });
  return out;
}

void MachineManager::CheckpointTaken(const std::string& id, Result<std::string> ref,
                                     const CheckpointDone& done) {
  if (stopped_) return;
  auto* c = const_cast<MachineCheckpointRecord*>(FindCheckpoint(id));
  if (c == nullptr) return;
  if (ref) {
    c->state = "ready";
    c->ref = *ref;
  } else {
    c->state = "failed";
    c->error = ref.error().message;
  }
  d_.open_batch();
  if (auto r = d_.store->SaveMachineCheckpoint(*c); !r) {
    spdlog::error("machines: {}", r.error().message);
  }
  if (done) {
    if (ref) {
      done(static_cast<const MachineCheckpointRecord*>(c));
    } else {
      done(ref.error());
    }
  }
}

const MachineCheckpointRecord* MachineManager::FindCheckpoint(std::string_view id) const {
  for (const auto& c : checkpoints_) {
    if (c->id == id) return c.get();
  }
  return nullptr;
}

std::vector<const MachineCheckpointRecord*> MachineManager::Checkpoints(
    std::string_view machine_id) const {
  std::vector<const MachineCheckpointRecord*> out;
  for (const auto& c : checkpoints_) {
    if (machine_id.empty() || c->machine_id == machine_id) out.push_back(c.get());
  }
  return out;
}

Result<void> MachineManager::DeleteCheckpoint(const std::string& id,
                                              std::function<void(Result<void>)> done) {
  const MachineCheckpointRecord* c = FindCheckpoint(id);
  if (c == nullptr)
    return MakeError(ErrorCode::kNotFound, "no machine checkpoint " + id.substr(0, 80));
  if (c->state == "creating") {
    return MakeError(ErrorCode::kConflict, "machine checkpoint " + id + " is still being taken");
  }
  const PoolState* p = Pool(c->pool);
  auto forget = [this, id, done](Result<void> r) {
    if (r) {
      d_.open_batch();
      if (auto d = d_.store->DeleteMachineCheckpoint(id); !d) r = d.error();
      std::erase_if(checkpoints_, [&](const auto& x) { return x->id == id; });
    }
    if (done) done(r);
  };
  if (c->ref.empty() || p == nullptr || p->provisioner == nullptr) {
    forget({});
    return {};
  }
  asio::post(work_, [this, prov = p->provisioner, ref = c->ref, forget] {
    auto r = prov->DeleteSnapshot(ref);
    asio::post(*d_.ioc, [r = std::move(r), forget]() mutable { forget(std::move(r)); });
  });
  return {};
}

Result<const MachineRecord*> MachineManager::RevertMachine(const std::string& checkpoint_id,
                                                           std::function<void(Result<void>)> done) {
  const MachineCheckpointRecord* c = FindCheckpoint(checkpoint_id);
  if (c == nullptr) {
    return MakeError(ErrorCode::kNotFound, "no machine checkpoint " + checkpoint_id.substr(0, 80));
  }
  if (c->state != "ready") {
    return MakeError(ErrorCode::kConflict, "machine checkpoint " + c->id + " is " + c->state);
  }
  const MachineRecord* m = d_.fleet->Find(c->machine_id);
  if (m == nullptr || !Live(*m) || m->instance.empty() || terminating_.count(m->id)) {
    return MakeError(
        ErrorCode::kConflict,
        "the machine checkpoint " + c->id + " was taken of is gone: spawn a new machine from it");
  }
  const PoolState* p = Pool(m->pool);
  if (p == nullptr || p->provisioner == nullptr || !p->provisioner->CanRevert()) {
    return MakeError(ErrorCode::kBadRequest,
                     "machine " + m->name + " (" + m->backend +
                         ") cannot be reverted: only libvirt and proxmox "
                         "machines can; spawn a new machine from the checkpoint");
  }
  spdlog::info("machines reverting {} to machine checkpoint {}", m->name, c->id);
  asio::post(work_, [this, prov = p->provisioner, name = m->name, instance = m->instance,
                     ref = c->ref, done = std::move(done)] {
    auto r = prov->Revert(name, instance, ref);
    asio::post(*d_.ioc, [r = std::move(r), done]() mutable {
      if (done) done(std::move(r));
    });
  });
  return m;
}

void MachineManager::Changed(const std::string& id) {
  if (const MachineRecord* m = d_.fleet->Find(id)) d_.listener->MachineChanged(*m);
}

void MachineManager::Tick() {
  if (stopped_) return;
  const int64_t now = d_.clock->NowMs();
  std::vector<std::string> overdue, drained, abandoned;
  for (const MachineRecord* m : d_.fleet->List()) {
    if (m->pool.empty() || !Live(*m)) continue;
    // A lost machine that stays away as long as one may take to boot is given up: its
    // instance is removed and the pool makes a new one.
    if (m->state == MachineState::kLost) {
      const int64_t since = lost_since_.try_emplace(m->id, now).first->second;
      const PoolState* p = Pool(m->pool);
      if (p != nullptr && now - since > Ms(p->config.boot_timeout)) abandoned.push_back(m->id);
      continue;
    }
    lost_since_.erase(m->id);
    if (Starting(m->state)) {
      auto it = boot_deadline_.find(m->id);
      if (it != boot_deadline_.end() && now > it->second) overdue.push_back(m->id);
      continue;
    }
    const bool idle = m->state == MachineState::kReady && d_.tasks_on(m->id) == 0;
    if (!idle) {
      idle_since_.erase(m->id);
    } else {
      idle_since_.try_emplace(m->id, now);
    }
    if (m->state == MachineState::kDraining && d_.tasks_on(m->id) == 0) drained.push_back(m->id);
  }
  for (const std::string& id : overdue) {
    const MachineRecord& m = *d_.fleet->Find(id);
    const PoolState* p = Pool(m.pool);
    Fail(m, "its agent did not register within " +
                FormatDuration(p != nullptr ? p->config.boot_timeout : Duration(0)));
  }
  for (const std::string& id : drained) {
    const std::string pool = d_.fleet->Find(id)->pool;
    auto r = Terminate(id, "drained");
    AuditMachine(d_.audit, "drained", "machine.terminate", id, pool, "drained",
                 r ? "" : r.error().message);
  }
  for (auto it = destroy_retry_at_.begin(); it != destroy_retry_at_.end();) {
    const MachineRecord* m = d_.fleet->Find(it->first);
    if (m == nullptr) {
      it = destroy_retry_at_.erase(it);
    } else if (now < it->second.at_ms || terminating_.count(it->first)) {
      ++it;
    } else {
      const DestroyRetry retry = it->second;
      it = destroy_retry_at_.erase(it);
      Destroy(*m, retry.why, retry.then_terminate);
    }
  }
  for (const std::string& id : abandoned) {
    lost_since_.erase(id);
    const std::string why = "lost for longer than its pool's boot_timeout";
    const std::string pool = d_.fleet->Find(id)->pool;
    auto r = Terminate(id, why);
    AuditMachine(d_.audit, "lost_too_long", "machine.terminate", id, pool, why,
                 r ? "" : r.error().message);
  }
  Autoscale(now);
}

void MachineManager::Autoscale(int64_t now) {
  if (pools_.empty()) return;
  std::vector<WaitingTask> waiting;
  std::set<std::string> seen;
  for (WaitingTask& t : d_.waiting_tasks()) {
    seen.insert(t.id);
    if (waiting_before_.count(t.id)) waiting.push_back(std::move(t));
  }
  waiting_before_ = std::move(seen);
  std::vector<PoolView> views;
  for (const auto& p : pools_) {
    PoolView v;
    v.pool = &p->config;
    v.spawn_paused = p->provisioner == nullptr || now < p->paused_until_ms;
    views.push_back(std::move(v));
  }
  for (const MachineRecord* m : d_.fleet->List()) {
    if (m->pool.empty() || !Live(*m) || m->state == MachineState::kDraining) continue;
    for (size_t i = 0; i < pools_.size(); ++i) {
      if (pools_[i]->config.name != m->pool) continue;
      auto idle = idle_since_.find(m->id);
      views[i].machines.push_back({m->id, Starting(m->state), idle != idle_since_.end(),
                                   idle == idle_since_.end() ? now : idle->second});
    }
  }
  ScaleDecision d = DecideScaling(views, waiting, d_.may_spend, now);
  for (const auto& [pool, n] : d.spawn) {
    for (uint32_t i = 0; i < n; ++i) {
      const std::string why = "tasks waiting or below min";
      auto r = Spawn({.pool = pool, .why = "autoscaler: " + why});
      AuditMachine(d_.audit, "autoscaler", "machine.spawn", r ? (*r)->id : "", pool, why,
                   r ? "" : r.error().message);
      if (!r) {
        spdlog::warn("machines: autoscaler cannot grow pool {}: {}", pool, r.error().message);
        break;
      }
    }
  }
  for (const std::string& id : d.retire) {
    const MachineRecord* m = d_.fleet->Find(id);
    const PoolState* p = m == nullptr ? nullptr : Pool(m->pool);
    if (p == nullptr) continue;
    const std::string why = "idle for " + FormatDuration(p->config.idle_timeout);
    auto r = Terminate(id, why);
    AuditMachine(d_.audit, "autoscaler", "machine.retire", id, p->config.name, why,
                 r ? "" : r.error().message);
  }
}

}  // namespace autovibe
