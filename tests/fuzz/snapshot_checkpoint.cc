// Checkpoints that come from elsewhere (worker-agent/snapshot): a manifest and the trees and
// chunks it names, as an import brings them from another machine, taken into a real store
// (CheckpointStore::Import), compared with a checkpoint of its own (Diff), verified, written
// out (Restore: the restore plan, names and links judged before anything is written) and
// removed again (Delete).
//
// The fuzzer cannot make SHA-256 hashes, so objects name each other by index: the input is a
// manifest followed by up to eight objects, each a tree ('t' then a serialized v1::Tree) or a
// chunk (anything else). An object may name only those after it: a directory entry whose
// `tree` is one byte k names object k, and so does a file's chunk whose `hash` is one byte.
// Objects are stored last first, each under its real hash; the manifest's root is object 0's.
//
// Layout: [manifest length: 2 bytes][manifest][object length: 2 bytes][object]...
#include <filesystem>
#include <unordered_set>

#include "tests/fuzz/fuzz_target.h"
#include "worker-agent/snapshot/checkpoint_store.h"
#include "worker-agent/snapshot/transfer.h"
#include "worker-agent/snapshot/tree.h"

using namespace autovibe;
using namespace autovibe::snapshot;
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxObjects = 8;

struct Fixture {
  std::string dir = fuzz::ScratchDir() + "/snapshot";
  std::unique_ptr<CheckpointStore> store;
  std::string own_id;  // a checkpoint of the store's own, to diff against
  std::unordered_set<Hash, HashKey> own_objects;
  uint64_t runs = 0;

  Fixture() {
    const std::string ws = dir + "/workspace";
    fs::create_directories(ws + "/src");
    WriteFileOrDie(ws + "/README", "hello\n");
    WriteFileOrDie(ws + "/src/main.c", "int main() { return 0; }\n");
    fs::create_symlink("src/main.c", ws + "/main");
    auto opened = CheckpointStore::Open(dir + "/store", CheckpointOptions{});
    if (!opened) Die(opened.error().message);
    store = std::move(*opened);
    auto own = store->Create({.workspace = ws});
    if (!own) Die(own.error().message);
    own_id = own->manifest.id();
    auto objects = ObjectsOf(store->chunks(), own->manifest.root());
    if (!objects) Die(objects.error().message);
    own_objects.insert(objects->begin(), objects->end());
  }

  static void WriteFileOrDie(const std::string& path, std::string_view text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size()) Die(path);
    std::fclose(f);
  }
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "snapshot fixture: %s\n", why.c_str());
    std::abort();
  }
};

Fixture& TheFixture() {
  static Fixture f;
  return f;
}

std::string_view Piece(std::string_view& rest) {
  if (rest.size() < 2) {
    rest = {};
    return {};
  }
  const size_t n = (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
  std::string_view piece = rest.substr(2, n);
  rest.remove_prefix(2 + piece.size());
  return piece;
}

// An index reference (one byte) to an object after `self`, replaced by that object's hash.
void Resolve(std::string* field, size_t self, const std::vector<std::optional<Hash>>& hashes) {
  if (field->size() != 1) return;
  const size_t k = static_cast<uint8_t>((*field)[0]);
  if (k <= self || k >= hashes.size() || !hashes[k]) return;
  field->assign(reinterpret_cast<const char*>(hashes[k]->bytes.data()), hashes[k]->bytes.size());
}

// Stores the objects, last first; the hash each was stored under.
std::vector<std::optional<Hash>> StoreObjects(ChunkStore& chunks,
                                              const std::vector<std::string_view>& objects) {
  std::vector<std::optional<Hash>> hashes(objects.size());
  ChunkStore::Writer writer(chunks);
  for (size_t i = objects.size(); i-- > 0;) {
    std::string bytes(objects[i]);
    if (!bytes.empty() && bytes[0] == 't') {
      v1::Tree tree;
      if (!tree.ParseFromArray(bytes.data() + 1, static_cast<int>(bytes.size() - 1))) continue;
      for (auto& e : *tree.mutable_entries()) {
        Resolve(e.mutable_tree(), i, hashes);
        for (auto& c : *e.mutable_chunks()) Resolve(c.mutable_hash(), i, hashes);
      }
      bytes = tree.SerializeAsString();
    }
    const Hash h = Sha256(bytes);
    if (!writer.Put(h, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})) continue;
    hashes[i] = h;
  }
  (void)writer.Finish();
  return hashes;
}

}  // namespace

AV_FUZZ_TARGET(snapshot_checkpoint) {
  Fixture& f = TheFixture();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  v1::CheckpointManifest manifest;
  const std::string_view manifest_bytes = Piece(rest);
  if (!manifest.ParseFromArray(manifest_bytes.data(), static_cast<int>(manifest_bytes.size()))) {
    return;
  }
  std::vector<std::string_view> objects;
  while (!rest.empty() && objects.size() < kMaxObjects) objects.push_back(Piece(rest));
  const auto hashes = StoreObjects(f.store->chunks(), objects);
  if (!hashes.empty() && hashes[0]) {
    manifest.set_root(reinterpret_cast<const char*>(hashes[0]->bytes.data()),
                      hashes[0]->bytes.size());
  }
  (void)WalkTrees(
      f.store->chunks(), manifest.root(),
      {.visit = [](const v1::Tree&, const std::string&, int) -> Result<void> { return {}; }});
  auto imported = f.store->Import(manifest);
  fuzz::Show(imported ? "imported" : imported.error().message);
  if (imported) {
    const std::string id = imported->id();
    (void)f.store->Diff(f.own_id, id);
    (void)f.store->Verify(id);
    const std::string target = f.dir + "/restored";
    auto restored = f.store->Restore(id, target, false);
    fuzz::Show(restored ? "restored" : restored.error().message);
    std::error_code ec;
    fs::remove_all(target, ec);
    if (id != f.own_id) (void)f.store->Delete(id, {});
  }
  // What no checkpoint holds goes now and then, as retention would take it.
  if (++f.runs % 256 == 0) (void)f.store->chunks().Collect(f.own_objects);
}
