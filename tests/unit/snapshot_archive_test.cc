// A checkpoint as a tar+zstd archive (worker-agent/snapshot/archive.h), read back with Debian's
// own tar and zstd: what a user extracts must be the workspace as it was.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/core/run_program.h"
#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/archive.h"
#include "worker-agent/snapshot/archive_exports.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

// The whole archive of `m`, asked for in pieces of `piece` bytes.
std::string WholeArchive(CheckpointStore& store, const v1::CheckpointManifest& m, size_t piece) {
  auto w = ArchiveWriter::Open(store.chunks(), m);
  REQUIRE(w);
  std::string out;
  while (!(*w)->done()) {
    auto next = (*w)->Next(piece);
    REQUIRE(next);
    REQUIRE(!next->empty());
    REQUIRE(next->size() <= piece);
    out += *next;
  }
  CHECK((*w)->position() == out.size());
  return out;
}

void Save(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Run(const std::string& script) {
  auto out = RunProgram({.argv = {"sh", "-c", script}});
  INFO(script);
  if (!out) FAIL(out.error().message);
  return *out;
}

// Describe() without modification times below the second: tar keeps whole seconds.
std::map<std::string, std::string> Shape(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto [path, d] : Describe(root)) {
    const auto at = d.find(" mtime=");
    const auto dot = d.find('.', at);
    const auto end = d.find_first_of(" ", dot);
    d.erase(dot, end == std::string::npos ? std::string::npos : end - dot);
    out[path] = d;
  }
  return out;
}

v1::CheckpointManifest ManifestOf(const Hash& root) {
  v1::CheckpointManifest m;
  m.set_id("cp-hostile");
  m.set_root(std::string(root.view()));
  return m;
}

TEST_CASE("archive: Debian's tar extracts a checkpoint's archive as the workspace was") {
  Fixture f;
  Write(f.ws + "/README.md", "# demo\n");
  Write(f.ws + "/run.sh", "#!/bin/sh\necho hi\n", 0755);
  Write(f.ws + "/secret.txt", "private", 0600);
  Write(f.ws + "/read-only.txt", "r", 0444);
  Write(f.ws + "/empty.txt", "");
  Write(f.ws + "/src/lib/deep.c", "int deep;\n");
  Write(f.ws + "/big.bin", Random(6 << 20, 7));  // several chunks
  Write(f.ws + "/h\xc3\xa9llo.txt", "utf-8 name");
  Write(f.ws + "/.hidden", "dot file");
  fs::create_directories(f.ws + "/empty/dir");
  fs::create_directories(f.ws + "/locked");
  Write(f.ws + "/locked/inside", "x");
  REQUIRE(::chmod((f.ws + "/locked").c_str(), 0555) == 0);
  fs::create_symlink("src/lib/deep.c", f.ws + "/link-to-file");
  fs::create_symlink("src", f.ws + "/link-to-dir");
  fs::create_symlink("/etc/passwd", f.ws + "/absolute-link");
  fs::create_symlink("../../outside", f.ws + "/src/escaping-link");
  fs::create_symlink("nowhere", f.ws + "/dangling");
  auto cp = f.Take();

  const std::string archive = WholeArchive(*f.store, cp.manifest, 100'000);
  // The bytes do not depend on how they were asked for.
  CHECK(WholeArchive(*f.store, cp.manifest, 1 << 20) == archive);
  const std::string file = f.tmp / "cp.tar.zst";
  Save(file, archive);

  SECTION("tar --zstd -x") {
    fs::create_directories(f.tmp / "out");
    Run("tar --zstd -xf " + file + " -C " + f.tmp / "out");
    CHECK(Shape(f.tmp / "out") == Shape(f.ws));
  }
  SECTION("zstd -d | tar -x") {
    fs::create_directories(f.tmp / "out");
    Run("zstd -dc " + file + " | tar -xf - -C " + f.tmp / "out");
    CHECK(Shape(f.tmp / "out") == Shape(f.ws));
    CHECK(fs::read_symlink(f.tmp / "out/absolute-link") == "/etc/passwd");
    CHECK_FALSE(fs::exists(f.tmp / "outside"));
  }
  SECTION("every path is relative and holds no ..") {
    const std::string listing = Run("tar --zstd -tf " + file);
    std::istringstream lines(listing);
    size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
      INFO(line);
      CHECK(line.front() != '/');
      CHECK(line.find("..") == std::string::npos);
    }
    CHECK(n == Describe(f.ws).size());
  }
  // Make the workspace removable again.
  ::chmod((f.ws + "/locked").c_str(), 0755);
  ::chmod((f.tmp / "out/locked").c_str(), 0755);
}

TEST_CASE("archive: a name that is not UTF-8 keeps its bytes") {
  Fixture f;
  const std::string name = "caf\xe9.txt";  // Latin-1
  Write(f.ws + "/" + name, "latin-1 name");
  auto cp = f.Take();
  const std::string file = f.tmp / "cp.tar.zst";
  Save(file, WholeArchive(*f.store, cp.manifest, 1 << 20));
  fs::create_directories(f.tmp / "out");
  Run("tar --zstd -xf " + file + " -C " + f.tmp / "out");
  CHECK(*ReadFile(f.tmp / "out/" + name) == "latin-1 name");
}

TEST_CASE("archive: a hostile manifest is refused before anything is written") {
  Fixture f;
  ChunkStore& store = f.store->chunks();
  auto one = [](const std::string& name, v1::TreeEntry::Kind kind) {
    v1::Tree t;
    auto* e = t.add_entries();
    e->set_name(name);
    e->set_kind(kind);
    e->set_mode(0644);
    return t;
  };
  for (const std::string name : {"..", "a/../../x", "/etc/passwd", ""}) {
    SECTION("at the root: \"" + name + "\"") {
      auto w =
          ArchiveWriter::Open(store, ManifestOf(PutTree(store, one(name, v1::TreeEntry::FILE))));
      REQUIRE_FALSE(w);
      CHECK(w.error().code == ErrorCode::kHostileManifest);
    }
    SECTION("below a directory: \"" + name + "\"") {
      v1::Tree root = one("dir", v1::TreeEntry::DIRECTORY);
      root.mutable_entries(0)->set_tree(
          std::string(PutTree(store, one(name, v1::TreeEntry::FILE)).view()));
      auto w = ArchiveWriter::Open(store, ManifestOf(PutTree(store, root)));
      REQUIRE(w);
      auto piece = (*w)->Next(1 << 20);
      REQUIRE_FALSE(piece);
      CHECK(piece.error().code == ErrorCode::kHostileManifest);
      // And it stays refused.
      auto again = (*w)->Next(1 << 20);
      REQUIRE_FALSE(again);
      CHECK(again.error().code == ErrorCode::kHostileManifest);
    }
  }
}

TEST_CASE("archive: a file whose chunks are missing ends the archive with an error") {
  Fixture f;
  Write(f.ws + "/a.txt", "alpha");
  auto cp = f.Take();
  v1::Tree root;
  auto* e = root.add_entries();
  e->set_name("ghost.bin");
  e->set_kind(v1::TreeEntry::FILE);
  e->set_size(10);
  auto* c = e->add_chunks();
  c->set_hash(std::string(Sha256("never stored").view()));
  c->set_size(10);
  auto w = ArchiveWriter::Open(f.store->chunks(), ManifestOf(PutTree(f.store->chunks(), root)));
  REQUIRE(w);
  auto piece = (*w)->Next(1 << 20);
  REQUIRE_FALSE(piece);
  CHECK_THAT(piece.error().message, Catch::Contains("ghost.bin"));
}

TEST_CASE(
    "archive exports: pieces by offset, a lost reply sent again, a forgotten export resumed") {
  Fixture f;
  Write(f.ws + "/big.bin", Random(3 << 20, 11));
  Write(f.ws + "/small.txt", "small");
  auto cp = f.Take();
  const std::string whole = WholeArchive(*f.store, cp.manifest, 1 << 20);
  const std::string id = cp.manifest.id();
  constexpr size_t kPiece = 200'000;

  ArchiveExports exports;
  std::string got;
  ArchivePiece piece;
  do {
    auto p = exports.Piece(*f.store, {id, "x-1", got.size(), kPiece});
    REQUIRE(p);
    piece = *p;
    if (got.size() == kPiece) {
      // The reply to this one was lost: asked again, the same bytes come.
      auto again = exports.Piece(*f.store, {id, "x-1", got.size(), kPiece});
      REQUIRE(again);
      CHECK(again->data == piece.data);
    }
    got += piece.data;
    CHECK(exports.Checkpoints() == std::set<std::string>{id});
  } while (!piece.last);
  CHECK(got == whole);
  CHECK(piece.total == whole.size());

  // Another agent process (or one that forgot the export) starts again where it is asked to.
  ArchiveExports fresh;
  const uint64_t middle = whole.size() / 2;
  auto p = fresh.Piece(*f.store, {id, "x-2", middle, kPiece});
  REQUIRE(p);
  CHECK(p->data == whole.substr(middle, kPiece));

  auto missing = fresh.Piece(*f.store, {"cp-none", "x-3", 0, kPiece});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  auto past = fresh.Piece(*f.store, {id, "x-4", whole.size() + 10, kPiece});
  REQUIRE_FALSE(past);
  CHECK(past.error().code == ErrorCode::kBadRequest);
  auto no_id = fresh.Piece(*f.store, {id, "", 0, kPiece});
  REQUIRE_FALSE(no_id);
  CHECK(no_id.error().code == ErrorCode::kBadRequest);
}

}  // namespace
}  // namespace autovibe::snapshot
