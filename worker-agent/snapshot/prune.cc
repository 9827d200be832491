// CheckpointStore: removing checkpoints (one, or as retention says) and their chunks.
#include <unistd.h>

#include <algorithm>

#include "worker-agent/snapshot/checkpoint_store.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// Adds every chunk and tree under `tree_hash` to `live`; a tree seen before is not walked
// again (checkpoints share most of theirs). Only the hashes matter here: the trees are not
// judged as a restore would judge them.
Result<void> MarkLive(const ChunkStore& store, const std::string& tree_hash,
                      std::unordered_set<Hash, HashKey>& live) {
  TreeWalk walk;
  walk.check = TreeCheck::kParsed;
  walk.enter = [&](const Hash& h) { return live.insert(h).second; };
  walk.visit = [&](const v1::Tree& tree, const std::string&, int) -> Result<void> {
    for (const auto& e : tree.entries()) {
      for (const auto& c : e.chunks()) {
        if (auto ch = HashFromBytes(c.hash())) live.insert(*ch);
      }
    }
    return {};
  };
  return WalkTrees(store, tree_hash, walk);
}

bool Automatic(const v1::CheckpointManifest& m) { return m.trigger() != "manual"; }

}  // namespace

void CheckpointStore::Hold(std::span<const Hash> hashes) {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(held_, [&](const auto& h) { return now - h.second > kHeld; });
  for (const auto& h : hashes) held_[h] = now;
}

Result<PruneReport> CheckpointStore::Delete(const std::string& id,
                                            const std::set<std::string>& pinned) {
  auto m = Get(id);
  if (!m) return m.error();
  if (pinned.contains(id)) {
    return MakeError(ErrorCode::kConflict, "checkpoint " + id + " is in use by a task");
  }
  auto removed = Remove({id});
  if (!removed) return removed;
  // The workspace stood on it: its next checkpoint hangs from the one before.
  auto& heads = *heads_.mutable_by_workspace();
  if (auto it = heads.find(m->workspace()); it != heads.end() && it->second == id) {
    if (m->parent().empty() || !manifests_.contains(m->parent())) {
      heads.erase(it);
    } else {
      it->second = m->parent();
    }
    if (auto r = SaveHeads(); !r) return r.error();
  }
  return removed;
}

Result<PruneReport> CheckpointStore::Prune(const Retention& retention,
                                           const std::set<std::string>& pinned,
                                           int64_t now_unix_ms) {
  // Per workspace, automatic ones newest first.
  std::map<std::string, std::vector<const v1::CheckpointManifest*>> by_workspace;
  for (const auto& [id, m] : manifests_) {
    if (Automatic(m)) by_workspace[m.workspace()].push_back(&m);
  }
  std::set<std::string> doomed;
  for (auto& [workspace, list] : by_workspace) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      return a->created_unix_ms() > b->created_unix_ms();
    });
    std::set<int64_t> days_kept;
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& m = *list[i];
      int64_t day = m.created_unix_ms() / kDayMs;
      bool recent_day = day > now_unix_ms / kDayMs - retention.keep_daily_days;
      bool first_of_day = recent_day && days_kept.insert(day).second;
      bool keep = i < retention.keep_auto || first_of_day || pinned.contains(m.id()) ||
                  Head(workspace) == m.id();
      if (!keep) doomed.insert(m.id());
    }
  }
  if (doomed.empty()) return PruneReport{};
  return Remove(doomed);
}

Result<PruneReport> CheckpointStore::Remove(const std::set<std::string>& ids) {
  // What stays is known before anything goes: a tree that cannot be read stops it all.
  std::unordered_set<Hash, HashKey> live;
  for (const auto& [id, m] : manifests_) {
    if (ids.contains(id)) continue;
    if (auto r = MarkLive(*store_, m.root(), live); !r) {
      return MakeError(r.error().code,
                       "nothing removed: checkpoint " + id + ": " + r.error().message);
    }
  }
  // What the stat caches and the last walks vouch for stays too: the next checkpoint takes
  // it without reading.
  for (const auto& [workspace, state] : states_) {
    state.cache.MarkLive(live);
    if (state.last && state.last->tree) {
      if (auto r = MarkLive(*store_, std::string(state.last->tree->view()), live); !r) {
        return r.error();
      }
    }
  }
  // What transfers in flight will import.
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(held_, [&](const auto& h) { return now - h.second > kHeld; });
  for (const auto& [hash, since] : held_) live.insert(hash);
  // Children of a removed checkpoint hang from its nearest kept ancestor.
  auto kept_ancestor = [&](std::string parent) {
    while (ids.contains(parent)) {
      auto it = manifests_.find(parent);
      parent = it == manifests_.end() ? "" : it->second.parent();
    }
    return parent;
  };
  for (auto& [id, m] : manifests_) {
    if (ids.contains(id) || !ids.contains(m.parent())) continue;
    m.set_parent(kept_ancestor(m.parent()));
    if (auto r = SaveManifest(m); !r) return r.error();
  }
  PruneReport report;
  for (const auto& id : ids) {
    ::unlink((dir_ + "/checkpoints/" + id + ".pb").c_str());
    manifests_.erase(id);
    report.removed.push_back(id);
  }
  auto freed = store_->Collect(live);
  if (!freed) return freed.error();
  report.freed_bytes = *freed;
  return report;
}

}  // namespace autovibe::snapshot
