// The checkpoint store against workspaces built to break it: deeper than any walk may go,
// paths longer than the kernel takes in one call, more entries than a checkpoint holds. Each
// fails its checkpoint with a reason, on a small stack (no walk recurses as deep as the tree),
// and the store goes on working.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>

#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/restore.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

// Runs `fn` on a thread with a 512 KiB stack: a walk that recursed once per directory would
// overflow it well before kMaxDepth.
void OnSmallStack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  REQUIRE(::pthread_attr_init(&attr) == 0);
  REQUIRE(::pthread_attr_setstacksize(&attr, 512 << 10) == 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(::pthread_create(&thread, &attr, run, const_cast<std::function<void()>*>(&fn)) == 0);
  ::pthread_join(thread, nullptr);
  ::pthread_attr_destroy(&attr);
}

Result<CreateResult> TakeOnSmallStack(Fixture& f) {
  Result<CreateResult> out = MakeError(ErrorCode::kInternal, "not run");
  OnSmallStack([&] { out = f.store->Create(CreateRequest{.workspace = f.ws}); });
  return out;
}

// Makes `depth` nested directories named `name` under `base` (through descriptors, so no path
// grows long), then a file "leaf" holding `leaf` in the deepest.
void MakeChain(const std::string& base, int depth, const std::string& leaf = "bottom",
               const std::string& name = "d") {
  int fd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  for (int i = 0; i < depth; ++i) {
    if (::mkdirat(fd, name.c_str(), 0755) != 0) REQUIRE(errno == EEXIST);
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(fd);
    REQUIRE(next >= 0);
    fd = next;
  }
  int file = ::openat(fd, "leaf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ::close(fd);
  REQUIRE(file >= 0);
  REQUIRE(::write(file, leaf.data(), leaf.size()) == static_cast<ssize_t>(leaf.size()));
  ::close(file);
}

// How many `name` directories go down from `base`, and what the deepest one's leaf holds.
std::pair<int, std::string> ReadChain(const std::string& base, const std::string& name = "d") {
  int fd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  int depth = 0;
  for (;;) {
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) break;
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(fd);
    REQUIRE(next >= 0);
    fd = next;
    ++depth;
  }
  std::string leaf(64, '\0');
  int file = ::openat(fd, "leaf", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  ssize_t n = file >= 0 ? ::read(file, leaf.data(), leaf.size()) : -1;
  if (file >= 0) ::close(file);
  leaf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return {depth, leaf};
}

// GNU rm takes trees of any depth apart (std::filesystem::remove_all is held to PATH_MAX).
void RemoveDeep(const std::string& path) {
  REQUIRE(std::system(("rm -rf '" + path + "'").c_str()) == 0);
}

// Where the deep trees go: tmpfs when there is one (thousands of directories made and removed
// take a minute on a disk mounted with `discard`, a second there), and a workspace in it.
struct DeepDir {
  std::string path;
  DeepDir() {
    std::string tmpl = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/av-deep-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    fs::create_directories(path + "/ws");
  }
  ~DeepDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

TEST_CASE(
    "checkpoint: a workspace at the depth limit is taken, restored, compared, moved and "
    "pruned") {
  Fixture f;
  Fixture other;
  DeepDir deep_dir;
  f.ws = deep_dir / "ws";
  auto empty = f.Take();
  MakeChain(f.ws, kMaxDepth);
  auto deep = TakeOnSmallStack(f);
  REQUIRE(deep);
  CHECK(deep->manifest.file_count() == 1);

  Result<Restored> restored = MakeError(ErrorCode::kInternal, "not run");
  OnSmallStack([&] { restored = f.store->Restore(deep->manifest.id(), deep_dir / "copy", false); });
  REQUIRE(restored);
  CHECK(restored->directories == static_cast<uint64_t>(kMaxDepth));
  CHECK(ReadChain(deep_dir / "copy") == std::pair<int, std::string>(kMaxDepth, "bottom"));

  auto diff = f.store->Diff(empty.manifest.id(), deep->manifest.id());
  REQUIRE(diff);
  REQUIRE(diff->size() == 1);
  CHECK((*diff)[0].kind == Change::kAdded);
  CHECK((*diff)[0].path.size() == kMaxDepth * 2 + 4);  // "d/" 4096 times, "leaf"
  auto verified = f.store->Verify(deep->manifest.id());
  REQUIRE(verified);
  CHECK(verified->problems.empty());

  // To another store (as a branch onto another machine), and back out there.
  Move(*f.store, *other.store, deep->manifest.id());
  REQUIRE(other.store->Restore(deep->manifest.id(), deep_dir / "other", false));
  CHECK(ReadChain(deep_dir / "other") == std::pair<int, std::string>(kMaxDepth, "bottom"));

  // Retention walks what stays.
  REQUIRE(f.store->Delete(empty.manifest.id(), {}));
  CHECK(f.store->Verify(deep->manifest.id())->problems.empty());

  // Changed at the bottom: the walk of what changed goes as deep.
  MakeChain(f.ws, kMaxDepth, "changed");
  auto again = TakeOnSmallStack(f);
  REQUIRE(again);
  CHECK(again->files_read == 1);
  REQUIRE(f.store->Restore(again->manifest.id(), deep_dir / "again", false));
  CHECK(ReadChain(deep_dir / "again").second == "changed");
}

TEST_CASE(
    "checkpoint: 30,000 nested directories fail the checkpoint with a reason, and the "
    "store goes on") {
  Fixture f;
  DeepDir deep_dir;
  f.ws = deep_dir / "ws";
  Write(f.ws + "/notes.txt", "kept");
  auto before = f.Take();
  // Made after a first checkpoint: the walk of what changed meets them first, a full walk next.
  MakeChain(f.ws, 30'000);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = TakeOnSmallStack(f);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kTooLarge);
    CHECK_THAT(r.error().message, Catch::Contains("more than 4096 directories deep"));
    CHECK(r.error().message.size() < 400);  // the path in it is cut short
  }
  CHECK(f.store->List().size() == 1);

  // Gone again: the next checkpoint is whole, and what was taken before still restores.
  RemoveDeep(f.ws + "/d");
  Write(f.ws + "/notes.txt", "after");
  auto after = TakeOnSmallStack(f);
  REQUIRE(after);
  CHECK(after->manifest.parent() == before.manifest.id());
  REQUIRE(f.store->Restore(before.manifest.id(), f.tmp / "copy", false));
  CHECK(*ReadFile(f.tmp / "copy/notes.txt") == "kept");
  REQUIRE(f.store->Restore(after->manifest.id(), f.tmp / "copy2", false));
  CHECK(Describe(f.tmp / "copy2") == Describe(f.ws));
}

// A tree `levels` directories deep put straight into the store, as a manifest from another
// machine could name it.
Hash PutChainTree(ChunkStore& store, int levels) {
  ChunkStore::Writer w(store);
  std::string bytes = v1::Tree().SerializeAsString();
  Hash h = Sha256(bytes);
  REQUIRE(w.Put(h, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  for (int i = 0; i < levels; ++i) {
    v1::Tree t;
    auto* e = t.add_entries();
    e->set_name("d");
    e->set_kind(v1::TreeEntry::DIRECTORY);
    e->set_mode(0755);
    e->set_tree(std::string(h.view()));
    bytes = t.SerializeAsString();
    h = Sha256(bytes);
    REQUIRE(w.Put(h, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  }
  REQUIRE(w.Finish());
  return h;
}

TEST_CASE(
    "checkpoint: a manifest deeper than the limit is refused by restore, import, diff and "
    "verify, and nothing is written") {
  Fixture f;
  DeepDir deep_dir;
  ChunkStore& store = f.store->chunks();
  Hash root = PutChainTree(store, kMaxDepth + 1);

  Result<Restored> restored = MakeError(ErrorCode::kInternal, "not run");
  OnSmallStack(
      [&] { restored = RestoreTree(store, root, 0755, deep_dir / "target", RestoreOptions{}); });
  REQUIRE_FALSE(restored);
  CHECK(restored.error().code == ErrorCode::kTooLarge);
  CHECK_THAT(restored.error().message, Catch::Contains("4096 directories deep"));
  CHECK_FALSE(fs::exists(deep_dir / "target"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(deep_dir.path)) ++entries;
  CHECK(entries == 1);  // the workspace: no half-restored directory beside it

  auto objects = ObjectsOf(store, root.view());
  REQUIRE_FALSE(objects);
  CHECK(objects.error().code == ErrorCode::kTooLarge);

  v1::CheckpointManifest m;
  m.set_id("cp-00000000000000000000000000000001");
  m.set_root(std::string(root.view()));
  auto imported = f.store->Import(m);
  REQUIRE_FALSE(imported);
  CHECK(imported.error().code == ErrorCode::kTooLarge);
  CHECK(f.store->List().empty());

  // At the limit itself all is well.
  Hash ok = PutChainTree(store, kMaxDepth);
  m.set_id("cp-00000000000000000000000000000002");
  m.set_root(std::string(ok.view()));
  REQUIRE(f.store->Import(m));
  m.set_id("cp-00000000000000000000000000000003");
  m.set_root(std::string(PutChainTree(store, 1).view()));
  REQUIRE(f.store->Import(m));
  auto diff =
      f.store->Diff("cp-00000000000000000000000000000003", "cp-00000000000000000000000000000002");
  REQUIRE(diff);
  REQUIRE(diff->size() == 1);
  CHECK((*diff)[0].path.ends_with("d/d/"));  // the empty directory at the bottom came
  auto verified = f.store->Verify("cp-00000000000000000000000000000002");
  REQUIRE(verified);
  CHECK(verified->problems.empty());
}

TEST_CASE("checkpoint: paths longer than the kernel takes in one call, up to the path limit") {
  Fixture f;
  DeepDir deep_dir;
  f.ws = deep_dir / "ws";
  const std::string name(255, 'n');
  // 24 levels of 255-byte names: a path of over 6,000 bytes, past PATH_MAX (4096).
  MakeChain(f.ws, 24, "at the bottom", name);
  auto cp = TakeOnSmallStack(f);
  REQUIRE(cp);
  CHECK(cp->skipped.empty());
  CHECK(cp->manifest.file_count() == 1);
  REQUIRE(f.store->Restore(cp->manifest.id(), deep_dir / "copy", false));
  CHECK(ReadChain(deep_dir / "copy", name) == std::pair<int, std::string>(24, "at the bottom"));

  // 70 levels: over kMaxPathBytes.
  MakeChain(f.ws, 70, "too far", name);
  auto r = TakeOnSmallStack(f);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kTooLarge);
  CHECK_THAT(r.error().message, Catch::Contains("longer than 16384 bytes"));
}

TEST_CASE("checkpoint: more entries than a checkpoint holds fail it with a reason") {
  Fixture f;
  f.max_entries = 50;
  f.store = f.Open();
  for (int i = 0; i < 40; ++i) Write(f.ws + "/f" + std::to_string(i), "x");
  auto first = f.Take();
  // Added after the first: the walk of what changed counts them too.
  for (int i = 40; i < 60; ++i) Write(f.ws + "/f" + std::to_string(i), "x");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = f.store->Create(CreateRequest{.workspace = f.ws});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kTooLarge);
    CHECK_THAT(r.error().message, Catch::Contains("more than 50 files, directories and links"));
  }
  // Spread over directories whose walks were each within the limit: the whole is counted.
  fs::remove_all(f.ws);
  fs::create_directories(f.ws);
  for (int i = 0; i < 30; ++i) Write(f.ws + "/a/f" + std::to_string(i), "x");
  REQUIRE(f.store->Create(CreateRequest{.workspace = f.ws}));
  for (int i = 0; i < 30; ++i) Write(f.ws + "/b/f" + std::to_string(i), "x");
  auto r = f.store->Create(CreateRequest{.workspace = f.ws});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("more than 50"));
  fs::remove_all(f.ws + "/b");
  REQUIRE(f.store->Create(CreateRequest{.workspace = f.ws}));
  REQUIRE(f.store->Restore(first.manifest.id(), f.tmp / "copy", false));
}

}  // namespace
}  // namespace autovibe::snapshot
