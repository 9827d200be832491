// Helpers for the checkpoint store's tests: building workspaces and comparing directory trees
// the way a user would (kinds, modes, contents, link targets, modification times).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "common/core/files.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "worker-agent/snapshot/checkpoint_store.h"
#include "worker-agent/snapshot/transfer.h"

namespace autovibe::snapshot::testing {

namespace fs = std::filesystem;

inline void Write(const std::string& path, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

inline std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Everything a user could tell apart, keyed by relative path.
inline std::map<std::string, std::string> Describe(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    // Lexically: a link in the tree (a loop, one out of it) is never followed.
    std::string rel = it->path().lexically_relative(root).string();
    struct stat st {};
    REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    std::string d = std::to_string(st.st_mode) + " mtime=" + std::to_string(st.st_mtim.tv_sec) +
                    "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
      d += " -> " + fs::read_symlink(it->path()).string();
    } else if (S_ISREG(st.st_mode)) {
      d += " " + *ReadFile(it->path());
    }
    out[rel] = d;
  }
  return out;
}

// A tree put straight into the store, as an imported manifest from another machine could hold.
inline Hash PutTree(ChunkStore& store, const v1::Tree& tree) {
  std::string bytes = tree.SerializeAsString();
  Hash h = Sha256(bytes);
  ChunkStore::Writer w(store);
  REQUIRE(w.Put(h, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  REQUIRE(w.Finish());
  return h;
}

// A checkpoint store in a temp dir, with a workspace beside it.
struct Fixture {
  autovibe::testing::TempDir tmp{"av-snap"};
  std::string ws = tmp / "ws";
  // Files written a moment ago are trusted by the stat cache (the test for the racy window
  // sets it back).
  std::chrono::nanoseconds racy_window{0};
  unsigned full_walk_every = 20;
  uint64_t max_entries = kMaxEntries;
  std::unique_ptr<CheckpointStore> store = Open();

  Fixture() { fs::create_directories(ws); }

  std::unique_ptr<CheckpointStore> Open() {
    CheckpointOptions o;
    o.store.block_bytes = 64 << 10;  // small blocks: several per test tree
    o.create.racy_window = racy_window;
    o.create.full_walk_every = full_walk_every;
    o.create.max_entries = max_entries;
    auto s = CheckpointStore::Open(tmp / "store", o);
    REQUIRE(s);
    return std::move(*s);
  }

  CreateResult Take(const std::string& trigger = "manual", bool only_if_changed = false) {
    auto r = store->Create(
        CreateRequest{.workspace = ws, .trigger = trigger, .only_if_changed = only_if_changed});
    REQUIRE(r);
    return *r;
  }
};

// Copies `id` from `from` to `to` the way the controller drives it, with small parts.
struct Moved {
  size_t objects = 0;
  size_t sent = 0;
  size_t split = 0;  // objects that went in more than one part
};

inline Moved Move(CheckpointStore& from, CheckpointStore& to, const std::string& id,
                  size_t part_bytes = 100'000) {
  auto m = from.Get(id);
  REQUIRE(m);
  auto objects = ObjectsOf(from.chunks(), m->root());
  REQUIRE(objects);
  auto missing = MissingFrom(to.chunks(), *objects);
  PartSender sender;
  PartReceiver receiver;
  size_t next = 0;
  uint64_t within = 0;
  size_t split = 0;
  while (next < missing.size()) {
    std::span<const Hash> rest(missing.data() + next, missing.size() - next);
    auto parts = sender.Fetch(from.chunks(), rest, within, part_bytes);
    REQUIRE(parts);
    REQUIRE(!parts->empty());
    const Part last = parts->back();
    const size_t n = parts->size();
    for (const Part& p : *parts) {
      if (p.offset > 0 && p.offset + p.data.size() == p.total) ++split;
    }
    REQUIRE(receiver.Put(to.chunks(), std::move(*parts)));
    if (last.offset + last.data.size() == last.total) {
      next += n;
      within = 0;
    } else {
      next += n - 1;
      within = last.offset + last.data.size();
    }
  }
  CHECK(receiver.pending() == 0);
  REQUIRE(to.Import(*m));
  return {objects->size(), missing.size(), split};
}

}  // namespace autovibe::snapshot::testing
