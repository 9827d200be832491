// The checkpoint store when things go wrong: corrupt chunks, hostile manifests, a store opened
// after a crash; and retention with garbage collection.
#include <fcntl.h>

#include <catch2/catch.hpp>

#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/restore.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

// Flips one byte in the middle of every pack: the zstd frames of the blocks there break.
void CorruptPacks(const std::string& store_dir) {
  for (const auto& e : fs::directory_iterator(store_dir + "/packs")) {
    auto size = fs::file_size(e.path());
    if (size < 100) continue;
    int fd = ::open(e.path().c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char c;
    REQUIRE(::pread(fd, &c, 1, static_cast<off_t>(size / 2)) == 1);
    c = static_cast<char>(c ^ 0x5a);
    REQUIRE(::pwrite(fd, &c, 1, static_cast<off_t>(size / 2)) == 1);
    ::close(fd);
  }
}

TEST_CASE("checkpoint: a corrupt chunk is named with its file, and the workspace is untouched") {
  Fixture f;
  Write(f.ws + "/data.bin", Random(200 << 10, 5));
  auto cp = f.Take();
  Write(f.ws + "/data.bin", "work since the checkpoint");
  auto before = Describe(f.ws);
  CorruptPacks(f.tmp / "store");
  f.store = f.Open();

  auto report = f.store->Verify(cp.manifest.id());
  REQUIRE(report);
  REQUIRE_FALSE(report->problems.empty());
  CHECK_THAT(report->problems.front(), Catch::Contains("data.bin"));
  CHECK_THAT(report->problems.front(), Catch::Contains("corrupt"));

  auto restored = f.store->Restore(cp.manifest.id(), f.ws, true);
  REQUIRE_FALSE(restored);
  CHECK(restored.error().code == ErrorCode::kCorrupt);
  CHECK_THAT(restored.error().message, Catch::Contains("data.bin"));
  CHECK(Describe(f.ws) == before);
  // No half-restored directory is left beside it.
  for (const auto& e : fs::directory_iterator(f.tmp.path())) {
    CHECK(e.path().filename().string().find(".restore-") == std::string::npos);
  }
}

TEST_CASE("checkpoint: a sound checkpoint verifies clean") {
  Fixture f;
  Write(f.ws + "/a", Random(100 << 10, 6));
  Write(f.ws + "/b/c", "small");
  auto cp = f.Take();
  auto report = f.store->Verify(cp.manifest.id());
  REQUIRE(report);
  CHECK(report->problems.empty());
  CHECK(report->bytes == (100 << 10) + 5);
}

v1::Tree OneEntry(const std::string& name, v1::TreeEntry::Kind kind,
                  const std::string& target = "") {
  v1::Tree t;
  auto* e = t.add_entries();
  e->set_name(name);
  e->set_kind(kind);
  e->set_mode(0644);
  e->set_target(target);
  return t;
}

TEST_CASE("checkpoint: a hostile manifest is refused and nothing is written") {
  Fixture f;
  ChunkStore& store = f.store->chunks();
  std::vector<std::pair<std::string, v1::Tree>> hostile = {
      {"dot-dot name", OneEntry("..", v1::TreeEntry::FILE)},
      {"slash in name", OneEntry("a/../../x", v1::TreeEntry::FILE)},
      {"empty name", OneEntry("", v1::TreeEntry::FILE)},
      {"name longer than the kernel takes", OneEntry(std::string(256, 'n'), v1::TreeEntry::FILE)},
      {"link without a target", OneEntry("l", v1::TreeEntry::SYMLINK, "")},
      {"NUL in a link's target", OneEntry("l", v1::TreeEntry::SYMLINK, std::string("a\0b", 3))},
      {"link target longer than the kernel takes",
       OneEntry("l", v1::TreeEntry::SYMLINK, std::string(4096, 't'))},
  };
  // The same name twice.
  v1::Tree twice = OneEntry("x", v1::TreeEntry::FILE);
  *twice.add_entries() = twice.entries(0);
  hostile.emplace_back("twice", twice);

  for (const auto& [why, tree] : hostile) {
    SECTION(why) {
      Hash root = PutTree(store, tree);
      auto r = RestoreTree(store, root, 0755, f.tmp / "target", RestoreOptions{});
      REQUIRE_FALSE(r);
      CHECK(r.error().code == ErrorCode::kHostileManifest);
      CHECK_FALSE(fs::exists(f.tmp / "target"));
      CHECK_FALSE(fs::exists(f.tmp / "outside"));
      size_t entries = 0;
      for ([[maybe_unused]] const auto& e : fs::directory_iterator(f.tmp.path())) ++entries;
      CHECK(entries == 2);  // the store and the workspace, nothing else
    }
  }
}

TEST_CASE("checkpoint: a store cut off mid-write opens with what it fully holds") {
  Fixture f;
  Write(f.ws + "/a", "alpha");
  auto cp = f.Take();
  f.store.reset();
  // A torn index record at the end (a crash while appending).
  {
    std::ofstream index(f.tmp / "store/index", std::ios::app | std::ios::binary);
    index << "half a record";
  }
  f.store = f.Open();
  auto restored = f.store->Restore(cp.manifest.id(), f.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(*ReadFile(f.tmp / "copy/a") == "alpha");
  CHECK(fs::file_size(f.tmp / "store/index") % 64 == 0);
}

TEST_CASE("checkpoint: retention keeps what it should and collects the rest") {
  Fixture f;
  const int64_t day = 86'400'000;
  Write(f.ws + "/shared", Random(64 << 10, 7));
  auto manual = f.Take("manual");
  std::vector<std::string> autos;
  for (int i = 0; i < 6; ++i) {
    Write(f.ws + "/unique", Random(256 << 10, 100 + i));
    autos.push_back(f.Take("auto").manifest.id());
  }
  uint64_t before = f.store->chunks().disk_bytes();

  // A pinned one cannot be deleted.
  auto pinned = f.store->Delete(autos[1], {autos[1]});
  REQUIRE_FALSE(pinned);
  CHECK(pinned.error().code == ErrorCode::kConflict);

  int64_t tomorrow = manual.manifest.created_unix_ms() + day;
  auto pruned =
      f.store->Prune(Retention{.keep_auto = 2, .keep_daily_days = 0}, {autos[0]}, tomorrow);
  REQUIRE(pruned);
  CHECK(pruned->removed.size() == 3);  // autos 1..3; 0 is pinned, 4 and 5 are the newest
  CHECK(pruned->freed_bytes > 0);
  CHECK(f.store->chunks().disk_bytes() < before);
  auto left = f.store->List();
  REQUIRE(left.size() == 4);
  CHECK(left[0].id() == manual.manifest.id());
  CHECK(left[1].id() == autos[0]);
  CHECK(left[2].id() == autos[4]);
  CHECK(left[2].parent() == autos[0]);  // its parent was removed: it hangs from the next one up
  for (const auto& m : left) {
    auto report = f.store->Verify(m.id());
    REQUIRE(report);
    CHECK(report->problems.empty());
  }
  // One per day: the newest of today's is kept even past keep_auto.
  auto daily = f.store->Prune(Retention{.keep_auto = 0, .keep_daily_days = 2}, {},
                              manual.manifest.created_unix_ms());
  REQUIRE(daily);
  CHECK(daily->removed.size() == 2);  // autos[5] is the day's newest (and the head)
  REQUIRE(f.store->List().size() == 2);

  // Deleting the head: the workspace stands on its parent, whose chunks stay.
  REQUIRE(f.store->Delete(autos[5], {}));
  CHECK(f.store->Head(f.ws) == manual.manifest.id());
  auto report = f.store->Verify(manual.manifest.id());
  REQUIRE(report);
  CHECK(report->problems.empty());
  CHECK(f.Take("auto").manifest.parent() == manual.manifest.id());
}

}  // namespace
}  // namespace autovibe::snapshot

namespace autovibe::snapshot {
namespace {

using namespace testing;

TEST_CASE("checkpoint: links that go up inside the workspace survive pruning") {
  Fixture f;
  Write(f.ws + "/x/bin/tool", "#!/bin/sh\n", 0755);
  fs::create_directories(f.ws + "/node_modules/.bin");
  fs::create_symlink("../../x/bin/tool", f.ws + "/node_modules/.bin/tool");
  f.Take("auto");
  Write(f.ws + "/x/other", "more");
  f.Take("auto");
  auto pruned = f.store->Prune(Retention{.keep_auto = 1, .keep_daily_days = 0}, {},
                               f.store->List().back().created_unix_ms() + 86'400'000);
  REQUIRE(pruned);
  CHECK(pruned->removed.size() == 1);
}

TEST_CASE("checkpoint: no set-user-id bit comes back from a checkpoint") {
  Fixture f;
  Write(f.ws + "/tool", "x", 04755);
  auto cp = f.Take();
  REQUIRE(f.store->Restore(cp.manifest.id(), f.tmp / "copy", false));
  struct stat st {};
  REQUIRE(::stat((f.tmp / "copy/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
}

TEST_CASE("checkpoint: with no reader threads the walking thread reads the files") {
  autovibe::testing::TempDir tmp("av-snap");
  Write(tmp / "ws/f", "content");
  CheckpointOptions o;
  o.create.threads = 0;
  auto store = CheckpointStore::Open(tmp / "store", o);
  REQUIRE(store);
  auto cp = (*store)->Create(CreateRequest{.workspace = tmp / "ws"});
  REQUIRE(cp);
  REQUIRE((*store)->Restore(cp->manifest.id(), tmp / "copy", false));
  CHECK(*ReadFile(tmp / "copy/f") == "content");
}

}  // namespace
}  // namespace autovibe::snapshot
