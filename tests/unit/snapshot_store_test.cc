// The checkpoint store: round trips, the stat cache, deduplication, chunking, the tree of
// checkpoints. Real files in temp dirs.
#include <fcntl.h>
#include <sys/mman.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/chunker.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

TEST_CASE("checkpoint: chunks are named by their SHA-256") {
  // Known answers (FIPS 180-2): empty, one block, and many blocks.
  CHECK(Sha256(std::string_view()).hex() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256(std::string(1000000, 'a')).hex() ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("checkpoint: a workspace comes back bit for bit, modes, links and odd names included") {
  Fixture f;
  Write(f.ws + "/src/main.cc", "int main() {}\n", 0644);
  Write(f.ws + "/run.sh", "#!/bin/sh\necho hi\n", 0755);
  Write(f.ws + "/secret", "s3cret", 0600);
  Write(f.ws + "/readonly.txt", "fixed", 0444);
  Write(f.ws + "/empty", "", 0644);
  Write(f.ws + "/big.bin", Random(9 << 20, 1), 0644);  // several chunks
  Write(f.ws + "/odd names/with space\nand newline", "x", 0644);
  Write(f.ws + "/odd names/\xff\xfe not utf-8", "y", 0644);
  Write(f.ws + "/odd names/ünïcödé", "z", 0644);
  fs::create_directories(f.ws + "/empty dir");
  fs::create_directories(f.ws + "/locked/inner");
  Write(f.ws + "/locked/inner/file", "deep", 0644);
  fs::create_symlink("src/main.cc", f.ws + "/link-to-main");
  fs::create_symlink("../run.sh", f.ws + "/src/up-link");
  fs::create_symlink("does-not-exist", f.ws + "/dangling");
  REQUIRE(::chmod((f.ws + "/locked").c_str(), 0555) == 0);
  auto before = Describe(f.ws);

  auto cp = f.Take();
  REQUIRE(cp.created);
  CHECK(cp.manifest.file_count() == 10);
  CHECK(cp.skipped.empty());

  auto restored = f.store->Restore(cp.manifest.id(), f.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(restored->files == 10);
  CHECK(restored->symlinks == 3);
  CHECK(Describe(f.tmp / "copy") == before);
  CHECK(Describe(f.ws) == before);  // taking it changed nothing

  // An existing directory is only replaced when asked.
  auto again = f.store->Restore(cp.manifest.id(), f.tmp / "copy", false);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kConflict);
  ::chmod((f.ws + "/locked").c_str(), 0755);
  ::chmod((f.tmp / "copy/locked").c_str(), 0755);
}

TEST_CASE("checkpoint: unchanged files are not read again, a changed one is") {
  Fixture f;
  for (int i = 0; i < 50; ++i)
    Write(f.ws + "/f" + std::to_string(i), "content " + std::to_string(i));
  auto first = f.Take();
  CHECK(first.files_read == 50);

  auto second = f.Take();
  CHECK(second.files_read == 0);
  CHECK(second.manifest.root() == first.manifest.root());
  CHECK(second.manifest.stored_bytes() == 0);

  Write(f.ws + "/f7", "changed");
  auto third = f.Take();
  CHECK(third.files_read == 1);
  CHECK(third.manifest.root() != first.manifest.root());

  // The cache survives the store being closed and opened again (an agent restart).
  f.store.reset();
  f.store = f.Open();
  CHECK(f.Take().files_read == 0);
}

TEST_CASE("checkpoint: a file rewritten at once, at the same size, is read again") {
  Fixture f;
  f.racy_window = std::chrono::hours(1);  // everything here is "just changed"
  f.store = f.Open();
  Write(f.ws + "/hot", "aaaa");
  f.Take();
  // Same size, likely the same timestamp tick: its stat alone would not tell.
  Write(f.ws + "/hot", "bbbb");
  auto cp = f.Take();
  CHECK(cp.files_read == 1);
  REQUIRE(f.store->Restore(cp.manifest.id(), f.tmp / "copy", false));
  CHECK(*ReadFile(f.tmp / "copy/hot") == "bbbb");
}

TEST_CASE(
    "checkpoint: identical content is stored once, across files, checkpoints and workspaces") {
  Fixture f;
  const std::string blob = Random(300 << 10, 2);
  Write(f.ws + "/a", blob);
  Write(f.ws + "/dir/b", blob);
  auto first = f.Take();
  // One copy of the blob, compressed as it is (random bytes do not shrink).
  CHECK(first.manifest.stored_bytes() < blob.size() + (16 << 10));

  // A copy in another workspace: its files' chunks are all there already; only its trees
  // (new modification times) are new.
  fs::copy(f.ws, f.tmp / "ws2", fs::copy_options::recursive);
  auto other = f.store->Create(CreateRequest{.workspace = f.tmp / "ws2"});
  REQUIRE(other);
  CHECK(other->manifest.stored_bytes() < 1024);
  CHECK(other->manifest.parent().empty());  // a workspace of its own: no parent
}

TEST_CASE("checkpoint: an edit in a large file stores only the chunks around it") {
  Fixture f;
  std::string big = Random(12 << 20, 3);
  Write(f.ws + "/big", big);
  auto first = f.Take();
  big.insert(5 << 20, "an insertion in the middle");
  Write(f.ws + "/big", big);
  auto second = f.Take();
  CHECK(second.manifest.stored_bytes() < big.size() * 4 / 10);
  CHECK(second.manifest.stored_bytes() > 0);
}

TEST_CASE("checkpoint: cuts depend only on the bytes and stay within the sizes") {
  std::string data = Random(20 << 20, 4);
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  ChunkSizes sizes;
  std::vector<size_t> cuts;
  for (size_t at = 0; at < bytes.size();) {
    size_t n = NextCut(bytes.subspan(at, std::min(sizes.max, bytes.size() - at)), sizes);
    if (at + n < bytes.size()) {
      CHECK(n >= sizes.min);
      CHECK(n <= sizes.max);
    }
    at += n;
    cuts.push_back(at);
  }
  CHECK(cuts.size() > 8);  // about one per average size
  CHECK(cuts.size() < 60);
  // A prefix shifts every byte; the cuts after it come back in step.
  std::string shifted = "seventeen bytes!!" + data;
  auto sb = std::span(reinterpret_cast<const uint8_t*>(shifted.data()), shifted.size());
  size_t same = 0;
  for (size_t at = 0; at < sb.size();) {
    at += NextCut(sb.subspan(at, std::min(sizes.max, sb.size() - at)), sizes);
    if (std::find(cuts.begin(), cuts.end(), at - 17) != cuts.end()) ++same;
  }
  CHECK(same + 2 >= cuts.size());
}

TEST_CASE("checkpoint: checkpoints form a tree, and restore in place branches from the past") {
  Fixture f;
  Write(f.ws + "/keep", "same");
  Write(f.ws + "/edit", "v1");
  Write(f.ws + "/gone", "bye");
  auto cp1 = f.Take();
  Write(f.ws + "/edit", "v2");
  fs::remove(f.ws + "/gone");
  Write(f.ws + "/new/file", "hello");
  auto cp2 = f.Take();
  CHECK(cp2.manifest.parent() == cp1.manifest.id());

  auto diff = f.store->Diff(cp1.manifest.id(), cp2.manifest.id());
  REQUIRE(diff);
  std::vector<std::pair<Change::Kind, std::string>> got;
  for (const auto& c : *diff) got.emplace_back(c.kind, c.path);
  CHECK(got == std::vector<std::pair<Change::Kind, std::string>>{{Change::kChanged, "edit"},
                                                                 {Change::kRemoved, "gone"},
                                                                 {Change::kAdded, "new/file"}});

  // Directories show as themselves ("dir/") when a restore would change them and no file
  // in them says so: an empty one made or removed, a mode changed.
  fs::create_directories(f.ws + "/empty/inner");
  fs::permissions(f.ws + "/new", fs::perms::owner_all);
  auto dirs = f.Take();
  fs::remove(f.ws + "/empty/inner");
  auto fewer = f.Take();
  diff = f.store->Diff(cp2.manifest.id(), dirs.manifest.id());
  REQUIRE(diff);
  got.clear();
  for (const auto& c : *diff) got.emplace_back(c.kind, c.path);
  CHECK(got == std::vector<std::pair<Change::Kind, std::string>>{{Change::kAdded, "empty/inner/"},
                                                                 {Change::kChanged, "new/"}});
  diff = f.store->Diff(dirs.manifest.id(), fewer.manifest.id());
  REQUIRE(diff);
  got.clear();
  for (const auto& c : *diff) got.emplace_back(c.kind, c.path);
  CHECK(got ==
        std::vector<std::pair<Change::Kind, std::string>>{{Change::kRemoved, "empty/inner/"}});
  for (const auto* cp : {&fewer, &dirs}) REQUIRE(f.store->Delete(cp->manifest.id(), {}));
  fs::remove_all(f.ws + "/empty");
  fs::permissions(f.ws + "/new", fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);

  // Unsaved work is kept in a before_restore checkpoint, then cp1 comes back in place.
  Write(f.ws + "/edit", "v3 unsaved");
  auto restored = f.store->Restore(cp1.manifest.id(), f.ws, true);
  REQUIRE(restored);
  CHECK(*ReadFile(f.ws + "/edit") == "v1");
  CHECK(*ReadFile(f.ws + "/gone") == "bye");
  CHECK_FALSE(fs::exists(f.ws + "/new"));
  auto all = f.store->List();
  REQUIRE(all.size() == 3);
  CHECK(all[2].trigger() == "before_restore");
  CHECK(all[2].parent() == cp2.manifest.id());
  CHECK(f.store->Head(f.ws) == cp1.manifest.id());

  // The next one is a new branch from cp1.
  Write(f.ws + "/edit", "v4");
  auto cp4 = f.Take();
  CHECK(cp4.manifest.parent() == cp1.manifest.id());

  // Nothing changed since: an automatic trigger takes none.
  auto same = f.Take("auto", true);
  CHECK_FALSE(same.created);
  CHECK(same.manifest.id() == cp4.manifest.id());
}

}  // namespace
}  // namespace autovibe::snapshot

namespace autovibe::snapshot {
namespace {

using namespace testing;

// The root a checkpoint of `ws` gets from a store that never saw it: a full walk.
std::string FreshRoot(const Fixture& f, const std::string& ws, const std::string& name) {
  CheckpointOptions o;
  auto other = CheckpointStore::Open(f.tmp / name, o);
  REQUIRE(other);
  auto r = (*other)->Create(CreateRequest{.workspace = ws});
  REQUIRE(r);
  CHECK(r->full_walk);
  return r->manifest.root();
}

TEST_CASE("checkpoint: after the first, only what changed is walked, with the same result") {
  Fixture f;
  for (int d = 0; d < 5; ++d) {
    for (int i = 0; i < 5; ++i) {
      Write(f.ws + "/d" + std::to_string(d) + "/sub/f" + std::to_string(i),
            "v1 " + std::to_string(i));
    }
  }
  fs::create_symlink("d0/sub/f0", f.ws + "/link");
  auto first = f.Take();
  CHECK(first.files_read == 25);

  int step = 0;
  auto check = [&](const std::string& what) {
    INFO(what);
    auto cp = f.Take();
    CHECK(cp.created);
    CHECK(cp.files_read <= 5);  // a renamed directory's files are read again
    CHECK(cp.manifest.root() == FreshRoot(f, f.ws, "fresh" + std::to_string(++step)));
  };
  Write(f.ws + "/d1/sub/f2", "v2 longer");
  check("a file edited");
  Write(f.ws + "/d2/new/deeper/file", "new");
  check("a file in new directories");
  fs::remove_all(f.ws + "/d3");
  check("a directory removed");
  fs::rename(f.ws + "/d4", f.ws + "/d4-renamed");
  check("a directory renamed");
  ::chmod((f.ws + "/d0/sub/f1").c_str(), 0600);
  check("a mode changed");
  fs::remove(f.ws + "/link");
  fs::create_symlink("d1/sub/f2", f.ws + "/link");
  check("a link pointed elsewhere");
  // Nothing changed: nothing is walked but the root's way down to nothing.
  auto idle = f.Take();
  CHECK_FALSE(idle.full_walk);
  CHECK(idle.files_read == 0);
}

}  // namespace
}  // namespace autovibe::snapshot

namespace autovibe::snapshot {
namespace {

using namespace testing;

TEST_CASE("checkpoint: a directory removed and made again is watched anew") {
  Fixture f;
  Write(f.ws + "/d/f", "one");
  f.Take();
  fs::remove_all(f.ws + "/d");
  Write(f.ws + "/d/f", "two");
  auto second = f.Take();
  CHECK(second.manifest.root() == FreshRoot(f, f.ws, "fresh-a"));
  // Only the new directory's watch can see this.
  Write(f.ws + "/d/f", "three, longer");
  auto third = f.Take();
  CHECK_FALSE(third.full_walk);
  CHECK(third.manifest.root() == FreshRoot(f, f.ws, "fresh-b"));
}

}  // namespace
}  // namespace autovibe::snapshot

namespace autovibe::snapshot {
namespace {

using namespace testing;

TEST_CASE("checkpoint: a full walk now and then sees what inotify does not report") {
  Fixture f;
  f.full_walk_every = 1;
  f.store = f.Open();
  const std::string path = f.ws + "/mapped";
  Write(path, std::string(4096, 'a'));
  // An old modification time: the write below surely changes it.
  struct timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), old, 0) == 0);
  CHECK(f.Take().full_walk);
  // Written through a shared mapping: inotify reports no IN_MODIFY for that.
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(p != MAP_FAILED);
  std::memset(p, 'b', 100);
  REQUIRE(::msync(p, 4096, MS_SYNC) == 0);
  ::munmap(p, 4096);
  ::close(fd);
  auto incremental = f.Take();
  CHECK_FALSE(incremental.full_walk);
  auto backstop = f.Take();
  CHECK(backstop.full_walk);
  CHECK(backstop.manifest.root() == FreshRoot(f, f.ws, "fresh"));
  auto restored = f.store->Restore(backstop.manifest.id(), f.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(ReadFile(f.tmp / "copy/mapped")->substr(0, 101) == std::string(100, 'b') + "a");
}

}  // namespace
}  // namespace autovibe::snapshot
