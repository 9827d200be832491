#include "worker-agent/snapshot/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/core/files.h"
#include "common/core/ids.h"
#include "worker-agent/snapshot/beneath.h"
#include "worker-agent/snapshot/transfer.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

namespace fs = std::filesystem;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One name per directory: absolute, normal, no trailing slash ("ws", "./ws" and "ws/" are one).
std::string WorkspaceName(const std::string& path) {
  std::error_code ec;
  std::string out = fs::absolute(path, ec).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Checkpoint ids are ours ("cp-" and hex); anything else never names a file.
bool WellFormedId(const std::string& id) {
  return id.size() > 3 && id.size() <= 64 && id.starts_with("cp-") &&
         std::all_of(id.begin() + 3, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& dir,
                                                               CheckpointOptions options) {
  if (!HaveOpenat2()) {
    return MakeError(ErrorCode::kUnsupported,
                     "workspace checkpoints need openat2 (Linux 5.6 or later, and a seccomp "
                     "profile that allows it); this system refuses it");
  }
  std::unique_ptr<CheckpointStore> s(new CheckpointStore(dir, options));
  for (const char* sub : {"/checkpoints", "/statcache"}) {
    if (auto r = MakeDirs(dir + sub, 0700); !r) return r.error();
  }
  auto store = ChunkStore::Open(dir, options.store);
  if (!store) return store.error();
  s->store_ = std::move(*store);
  if (auto r = s->Load(); !r) return r.error();
  return s;
}

CheckpointStore::~CheckpointStore() { SaveCaches(); }

Result<void> CheckpointStore::Load() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/checkpoints", ec)) {
    if (e.path().extension() != ".pb") continue;
    auto bytes = ReadFile(e.path());
    v1::CheckpointManifest m;
    if (!bytes || !m.ParseFromString(*bytes) || !WellFormedId(m.id())) continue;
    manifests_[m.id()] = std::move(m);
  }
  if (auto bytes = ReadFile(dir_ + "/heads"); bytes) heads_.ParseFromString(*bytes);
  return {};
}

Result<void> CheckpointStore::SaveManifest(const v1::CheckpointManifest& m) {
  return WriteFileAtomic(dir_ + "/checkpoints/" + m.id() + ".pb", m.SerializeAsString(), 0600);
}

// Not synced: lost in a crash of the machine, a workspace's next checkpoint would only hang
// from the one before (every checkpoint itself is durable).
Result<void> CheckpointStore::SaveHeads() {
  return WriteFileAtomic(dir_ + "/heads", heads_.SerializeAsString(), 0600, false);
}

std::string CheckpointStore::CachePath(const std::string& workspace) const {
  return dir_ + "/statcache/" + Sha256(workspace).hex().substr(0, 32);
}

WorkspaceState& CheckpointStore::StateFor(const std::string& workspace) {
  auto it = states_.find(workspace);
  if (it == states_.end()) {
    it = states_.emplace(workspace, WorkspaceState{}).first;
    it->second.cache = StatCache::Load(CachePath(workspace));
  }
  return it->second;
}

void CheckpointStore::SaveCaches() {
  for (auto& [workspace, state] : states_) {
    if (!state.last) continue;
    (void)StatCacheOf(*state.last).Save(CachePath(workspace));
  }
}

std::string CheckpointStore::Head(const std::string& workspace) const {
  auto it = heads_.by_workspace().find(WorkspaceName(workspace));
  return it == heads_.by_workspace().end() ? std::string() : it->second;
}

Result<CreateResult> CheckpointStore::Create(const CreateRequest& request) {
  std::string workspace = WorkspaceName(request.workspace);
  int root = ::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    return MakeError(ErrorCode::kNotFound,
                     "cannot open workspace " + workspace + ": " + std::strerror(errno));
  }
  WorkspaceState& state = StateFor(workspace);
  auto created = CreateCheckpoint(*store_, root, state, options_.create);
  ::close(root);
  if (!created) return created.error();

  CreateResult out;
  out.files_read = created->files_read;
  out.full_walk = created->full_walk;
  out.skipped = std::move(created->skipped);
  std::string parent = Head(workspace);
  auto head = manifests_.find(parent);
  if (request.only_if_changed && head != manifests_.end() &&
      head->second.root() == created->root.view() &&
      head->second.root_mode() == created->root_mode) {
    out.manifest = head->second;
    return out;
  }
  v1::CheckpointManifest& m = out.manifest;
  m.set_id(NewId("cp"));
  if (head != manifests_.end()) m.set_parent(parent);
  m.set_root(std::string(created->root.view()));
  m.set_root_mode(created->root_mode);
  m.set_created_unix_ms(NowUnixMs());
  m.set_trigger(request.trigger);
  m.set_task_id(request.task_id);
  m.set_machine_id(request.machine_id);
  m.set_label(request.label);
  m.set_workspace(workspace);
  m.set_file_count(created->file_count);
  m.set_total_bytes(created->total_bytes);
  m.set_stored_bytes(created->stored_bytes);
  if (auto r = SaveManifest(m); !r) return r.error();
  (*heads_.mutable_by_workspace())[workspace] = m.id();
  if (auto r = SaveHeads(); !r) return r.error();
  // A lost cache costs a re-read, never a wrong checkpoint: written after the manifest, and
  // only after a full walk (after the others, the last walk in memory is the cache).
  if (created->full_walk) (void)state.cache.Save(CachePath(workspace));
  manifests_[m.id()] = m;
  out.created = true;
  return out;
}

Result<v1::CheckpointManifest> CheckpointStore::Get(const std::string& id) const {
  auto it = manifests_.find(id);
  if (it == manifests_.end()) return MakeError(ErrorCode::kNotFound, "no checkpoint " + id);
  return it->second;
}

std::vector<v1::CheckpointManifest> CheckpointStore::List() const {
  std::vector<v1::CheckpointManifest> out;
  for (const auto& [id, m] : manifests_) out.push_back(m);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_unix_ms() < b.created_unix_ms();
  });
  return out;
}

Result<Restored> CheckpointStore::Restore(const std::string& id, const std::string& target,
                                          bool replace) {
  auto r = Restore(RestoreRequest{.id = id, .target = target, .replace = replace});
  if (!r) return r.error();
  return r->restored;
}

Result<RestoreResult> CheckpointStore::Restore(const RestoreRequest& request) {
  const std::string& id = request.id;
  auto m = Get(id);
  if (!m) return m.error();
  auto root = HashFromBytes(m->root());
  if (!root)
    return MakeError(ErrorCode::kCorrupt, "checkpoint " + id + " names no well-formed root");
  std::string workspace = WorkspaceName(request.target);
  RestoreResult out;
  std::error_code ec;
  if (request.replace && fs::is_directory(workspace, ec)) {
    // What the restore replaces is kept first, so it can be had back.
    CreateRequest before{.workspace = workspace,
                         .trigger = "before_restore",
                         .task_id = request.task_id,
                         .machine_id = request.machine_id,
                         .label = "before restoring " + id,
                         .only_if_changed = true};
    auto taken = Create(before);
    if (!taken && taken.error().code != ErrorCode::kTooLarge) return taken.error();
    // A workspace no checkpoint can hold (limits.h) cannot be kept first; a restore is then
    // the way out of it.
    if (!taken) {
      out.not_kept = taken.error().message;
    } else if (taken->created) {
      out.before = taken->manifest;
      if (request.on_before) request.on_before(*out.before);
    }
  }
  auto restored =
      RestoreTree(*store_, *root, m->root_mode(), workspace,
                  RestoreOptions{.replace = request.replace, .threads = options_.create.threads});
  if (!restored) return restored.error();
  out.restored = *restored;
  // Another directory is there now: its next checkpoint walks it all.
  states_.erase(workspace);
  (*heads_.mutable_by_workspace())[workspace] = id;
  if (auto r = SaveHeads(); !r) return r.error();
  return out;
}

Result<v1::CheckpointManifest> CheckpointStore::Import(const v1::CheckpointManifest& manifest) {
  if (!WellFormedId(manifest.id())) {
    return MakeError(ErrorCode::kBadRequest,
                     "not a checkpoint id: \"" + manifest.id().substr(0, 80) + "\"");
  }
  if (auto it = manifests_.find(manifest.id()); it != manifests_.end()) return it->second;
  if (!HashFromBytes(manifest.root())) {
    return MakeError(ErrorCode::kHostileManifest, "checkpoint " + manifest.id() + " names no root");
  }
  auto objects = ObjectsOf(*store_, manifest.root());
  if (!objects) {
    // A tree not there yet means objects are still to come.
    const ErrorCode code = objects.error().code;
    return MakeError(code == ErrorCode::kNotFound ? ErrorCode::kIncomplete : code,
                     "cannot import " + manifest.id() + ": " + objects.error().message);
  }
  auto missing = MissingFrom(*store_, *objects);
  if (!missing.empty()) {
    return MakeError(ErrorCode::kIncomplete,
                     "cannot import " + manifest.id() + ": " + std::to_string(missing.size()) +
                         " of its " + std::to_string(objects->size()) +
                         " objects are missing (first " + missing[0].hex() + ")");
  }
  if (auto r = store_->Sync(); !r) return r.error();
  v1::CheckpointManifest m = manifest;
  if (auto r = SaveManifest(m); !r) return r.error();
  manifests_[m.id()] = m;
  return m;
}

}  // namespace autovibe::snapshot
