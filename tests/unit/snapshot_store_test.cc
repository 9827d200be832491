// The checkpoint store: round trips, the stat cache, deduplication, chunking, the tree of
// checkpoints. Real files in temp dirs.
#include <catch2/catch.hpp>

#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/chunker.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

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
  CHECK(again.error().code == "conflict");
  ::chmod((f.ws + "/locked").c_str(), 0755);
  ::chmod((f.tmp / "copy/locked").c_str(), 0755);
}

TEST_CASE("checkpoint: unchanged files are not read again; a changed one is") {
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

  // The cache survives the store being opened again (an agent restart).
  f.store = f.Open();
  CHECK(f.Take().files_read == 0);
}

TEST_CASE("checkpoint: a file changed just before a checkpoint is read again next time") {
  Fixture f;
  f.racy_window = std::chrono::hours(1);  // everything here is "just changed"
  f.store = f.Open();
  Write(f.ws + "/hot", "edited a moment ago");
  CHECK(f.Take().files_read == 1);
  // Same size, same second: only reading it again would tell.
  CHECK(f.Take().files_read == 1);
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

TEST_CASE("checkpoint: checkpoints form a tree; restore in place branches from the past") {
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
