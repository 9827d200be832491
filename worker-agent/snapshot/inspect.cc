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

class Differ {
 public:
  Differ(const ChunkStore& store, std::vector<Change>& out) : store_(store), out_(out) {}

  // Both trees (either may be absent: empty string).
  Result<void> Trees(const std::string& from, const std::string& to, const std::string& path) {
    if (from == to) return {};  // the same tree: nothing below differs
    v1::Tree a, b;
    if (!from.empty()) {
      auto t = LoadTree(store_, from, path);
      if (!t) return t.error();
      a = std::move(*t);
    }
    if (!to.empty()) {
      auto t = LoadTree(store_, to, path);
      if (!t) return t.error();
      b = std::move(*t);
    }
    // An empty directory that came or went is a change of its own; one with entries shows
    // through them.
    if (from.empty() && b.entries_size() == 0) out_.push_back({Change::kAdded, path + "/"});
    if (to.empty() && a.entries_size() == 0) out_.push_back({Change::kRemoved, path + "/"});
    int i = 0, j = 0;
    while (i < a.entries_size() || j < b.entries_size()) {
      const Entry* x = i < a.entries_size() ? &a.entries(i) : nullptr;
      const Entry* y = j < b.entries_size() ? &b.entries(j) : nullptr;
      if (x && (!y || x->name() < y->name())) {
        if (auto r = One(x, nullptr, path); !r) return r;
        ++i;
      } else if (y && (!x || y->name() < x->name())) {
        if (auto r = One(nullptr, y, path); !r) return r;
        ++j;
      } else {
        if (auto r = One(x, y, path); !r) return r;
        ++i;
        ++j;
      }
    }
    return {};
  }

 private:
  Result<void> One(const Entry* x, const Entry* y, const std::string& dir) {
    std::string path = JoinPath(dir, (x ? x : y)->name());
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
      return Trees(x_dir ? x->tree() : "", y_dir ? y->tree() : "", path);
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
};

// Every chunk of a tree, with the first file that holds it.
Result<void> CollectChunks(const ChunkStore& store, const std::string& tree_hash,
                           const std::string& path,
                           std::unordered_map<Hash, std::string, HashKey>& chunks,
                           std::vector<std::string>& problems) {
  auto tree = LoadTree(store, tree_hash, path);
  if (!tree) {
    if (tree.error().code == ErrorCode::kHostileManifest) return tree.error();
    problems.push_back(tree.error().message);
    return {};
  }
  for (const auto& e : tree->entries()) {
    std::string child = JoinPath(path, e.name());
    if (e.kind() == Entry::DIRECTORY) {
      if (auto r = CollectChunks(store, e.tree(), child, chunks, problems); !r) return r;
    } else {
      for (const auto& c : e.chunks()) chunks.try_emplace(*HashFromBytes(c.hash()), child);
    }
  }
  return {};
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
  if (auto r = differ.Trees(a->root(), b->root(), ""); !r) return r.error();
  return out;
}

Result<VerifyReport> CheckpointStore::Verify(const std::string& id) const {
  auto m = Get(id);
  if (!m) return m.error();
  VerifyReport report;
  std::unordered_map<Hash, std::string, HashKey> chunks;
  if (auto r = CollectChunks(*store_, m->root(), "", chunks, report.problems); !r) {
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
