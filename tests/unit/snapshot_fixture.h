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
    std::string rel = fs::relative(it->path(), root).string();
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

// A checkpoint store in a temp dir, with a workspace beside it.
struct Fixture {
  autovibe::testing::TempDir tmp{"av-snap"};
  std::string ws = tmp / "ws";
  // Files written a moment ago are trusted by the stat cache (the test for the racy window
  // sets it back).
  std::chrono::nanoseconds racy_window{0};
  unsigned full_walk_every = 20;
  std::unique_ptr<CheckpointStore> store = Open();

  Fixture() { fs::create_directories(ws); }

  std::unique_ptr<CheckpointStore> Open() {
    CheckpointOptions o;
    o.store.block_bytes = 64 << 10;  // small blocks: several per test tree
    o.create.racy_window = racy_window;
    o.create.full_walk_every = full_walk_every;
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

}  // namespace autovibe::snapshot::testing
