// CheckpointStore: comparing two checkpoints, and re-hashing one.
#include <map>
#include <unordered_map>

#include "worker-agent/snapshot/checkpoint_store.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

using Entry = v1::TreeEntry;

bool SameContent(const Entry& a, const Entry& b) {
  if (a.kind() != b.kind() || a.mode() != b.mode()) return false;
  if (a.kind() == Entry::SYMLINK) return a.target() == b.target();
  if (a.chunks_size() != b.chunks_size()) return false;
  for (int i = 0; i < a.chunks_size(); ++i) {
    if (a.chunks(i).hash() != b.chunks(i).hash()) return false;
  }
  return true;
}

// Walks two trees side by side, on an explicit stack of the directories on the way down.
class Differ {
 public:
  Differ(const ChunkStore& store, std::vector<Change>& out) : store_(store), out_(out) {}

  // Both trees (either may be absent: empty string).
  Result<void> Trees(const std::string& from, const std::string& to) {
    if (auto r = Open(from, to, 0); !r) return r;
    while (!frames_.empty()) {
      Frame& top = frames_.back();
      const Entry* x = top.i < top.a.entries_size() ? &top.a.entries(top.i) : nullptr;
      const Entry* y = top.j < top.b.entries_size() ? &top.b.entries(top.j) : nullptr;
      if (!x && !y) {
        path_.resize(top.parent_len);
        frames_.pop_back();
        continue;
      }
      if (x && (!y || x->name() < y->name())) {
        y = nullptr;
        ++top.i;
      } else if (y && (!x || y->name() < x->name())) {
        x = nullptr;
        ++top.j;
      } else {
        ++top.i;
        ++top.j;
      }
      // `x` and `y` point into `top`, which One may move (a frame pushed): used before that.
      if (auto r = One(x, y); !r) return r;
    }
    return {};
  }

 private:
  struct Frame {
    v1::Tree a, b;
    int i = 0, j = 0;
    size_t parent_len = 0;  // path_ without this directory
  };

  // Enters the directory at path_ (`depth` below the root) whose trees are `from` and `to`.
  Result<void> Open(const std::string& from, const std::string& to, size_t parent_len) {
    if (from == to) {  // the same tree: nothing below differs
      path_.resize(parent_len);
      return {};
    }
    if (frames_.size() > static_cast<size_t>(kMaxDepth)) return TooDeep(path_);
    Frame f;
    f.parent_len = parent_len;
    if (!from.empty()) {
      auto t = LoadTree(store_, from, path_);
      if (!t) return t.error();
      f.a = std::move(*t);
    }
    if (!to.empty()) {
      auto t = LoadTree(store_, to, path_);
      if (!t) return t.error();
      f.b = std::move(*t);
    }
    // An empty directory that came or went is a change of its own; one with entries shows
    // through them.
    if (from.empty() && f.b.entries_size() == 0) out_.push_back({Change::kAdded, path_ + "/"});
    if (to.empty() && f.a.entries_size() == 0) out_.push_back({Change::kRemoved, path_ + "/"});
    frames_.push_back(std::move(f));
    return {};
  }

  Result<void> One(const Entry* x, const Entry* y) {
    const size_t parent_len = path_.size();
    std::string path = JoinPath(path_, (x ? x : y)->name());
    bool x_dir = x && x->kind() == Entry::DIRECTORY;
    bool y_dir = y && y->kind() == Entry::DIRECTORY;
    if (x_dir || y_dir) {
      // A directory on one side: what is under it differs; a file on the other side went or
      // came as itself.
      if (x && !x_dir) out_.push_back({Change::kRemoved, path});
      if (y && !y_dir) out_.push_back({Change::kAdded, path});
      if (x_dir && y_dir && x->mode() != y->mode()) {
        out_.push_back({Change::kChanged, path + "/"});
      }
      std::string from = x_dir ? x->tree() : "";
      std::string to = y_dir ? y->tree() : "";
      path_ = std::move(path);
      return Open(from, to, parent_len);
    }
    if (!x) {
      out_.push_back({Change::kAdded, path});
    } else if (!y) {
      out_.push_back({Change::kRemoved, path});
    } else if (!SameContent(*x, *y)) {
      out_.push_back({Change::kChanged, path});
    }
    return {};
  }

  const ChunkStore& store_;
  std::vector<Change>& out_;
  std::vector<Frame> frames_;
  std::string path_;  // of the directory on top
};

// Every chunk of a tree, with the first file that holds it.
Result<void> CollectChunks(const ChunkStore& store, const std::string& tree_hash,
                           std::unordered_map<Hash, std::string, HashKey>& chunks,
                           std::vector<std::string>& problems) {
  TreeWalk walk;
  walk.visit = [&](const v1::Tree& tree, const std::string& path, int) -> Result<void> {
    for (const auto& e : tree.entries()) {
      if (e.kind() == Entry::DIRECTORY) continue;
      for (const auto& c : e.chunks()) {
        auto h = *HashFromBytes(c.hash());  // checked by LoadTree
        if (!chunks.contains(h)) chunks.emplace(h, JoinPath(path, e.name()));
      }
    }
    return {};
  };
  walk.unreadable = [&](const Error& e) { problems.push_back(e.message); };
  return WalkTrees(store, tree_hash, walk);
}

}  // namespace

Result<std::vector<Change>> CheckpointStore::Diff(const std::string& from,
                                                  const std::string& to) const {
  auto a = Get(from);
  if (!a) return a.error();
  auto b = Get(to);
  if (!b) return b.error();
  std::vector<Change> out;
  Differ differ(*store_, out);
  if (auto r = differ.Trees(a->root(), b->root()); !r) return r.error();
  return out;
}

Result<VerifyReport> CheckpointStore::Verify(const std::string& id) const {
  auto m = Get(id);
  if (!m) return m.error();
  VerifyReport report;
  std::unordered_map<Hash, std::string, HashKey> chunks;
  if (auto r = CollectChunks(*store_, m->root(), chunks, report.problems); !r) {
    return r.error();
  }
  // Each block is read once, however many of its chunks the checkpoint holds.
  std::map<std::tuple<uint32_t, uint64_t, uint32_t>, std::vector<std::pair<Hash, ChunkLocation>>>
      blocks;
  for (const auto& [hash, path] : chunks) {
    auto at = store_->Find(hash);
    if (!at) {
      report.problems.push_back(path + ": chunk " + hash.hex() + " is missing from the store");
      continue;
    }
    blocks[{at->pack, at->block_offset, at->block_bytes}].emplace_back(hash, *at);
  }
  for (const auto& [where, held] : blocks) {
    auto raw = store_->ReadBlock(std::get<0>(where), std::get<1>(where), std::get<2>(where));
    for (const auto& [hash, at] : held) {
      ++report.chunks;
      const std::string& path = chunks[hash];
      if (!raw) {
        report.problems.push_back(path + ": chunk " + hash.hex() +
                                  " is corrupt: " + raw.error().message);
      } else if (size_t{at.offset} + at.size > raw->size() ||
                 Sha256(std::string_view(raw->data() + at.offset, at.size)) != hash) {
        report.problems.push_back(path + ": chunk " + hash.hex() +
                                  " is corrupt: its bytes do not match its hash");
      } else {
        report.bytes += at.size;
      }
    }
  }
  return report;
}

}  // namespace autovibe::snapshot
