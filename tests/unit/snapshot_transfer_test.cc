// Moving checkpoints between two stores (worker-agent/snapshot/transfer.h): only missing
// objects travel, everything arrives checked, and bad parts change nothing.
#include "tests/unit/snapshot_fixture.h"
#include "worker-agent/snapshot/transfer.h"

namespace autovibe::snapshot {
namespace {

using namespace testing;

TEST_CASE("checkpoint: a checkpoint moves to another store with only the objects it lacks") {
  Fixture a;
  Fixture b;
  Write(a.ws + "/big.bin", Random(3 << 20, 1));  // several chunks, each in several parts
  Write(a.ws + "/src/main.c", "int main() { return 0; }\n");
  Write(a.ws + "/empty", "");
  auto first = a.Take();
  Moved moved = Move(*a.store, *b.store, first.manifest.id());
  CHECK(moved.sent == moved.objects);
  CHECK(moved.split >= 2);  // big.bin's chunks (incompressible) are larger than a part
  auto restored = b.store->Restore(first.manifest.id(), b.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(Describe(b.tmp / "copy") == Describe(a.ws));

  // A later checkpoint: only what changed travels.
  Write(a.ws + "/src/main.c", "int main() { return 1; }\n");
  auto second = a.Take();
  moved = Move(*a.store, *b.store, second.manifest.id());
  CHECK(moved.sent == 3);  // the file's chunk, the src tree and the root tree
  auto again = b.store->Get(second.manifest.id());
  REQUIRE(again);
  CHECK(again->parent() == first.manifest.id());
  auto verified = b.store->Verify(second.manifest.id());
  REQUIRE(verified);
  CHECK(verified->problems.empty());
  // Moving it again moves nothing and imports idempotently.
  CHECK(Move(*a.store, *b.store, second.manifest.id()).sent == 0);
}

TEST_CASE("checkpoint: bad parts and incomplete imports are refused and change nothing") {
  Fixture a;
  Fixture b;
  Write(a.ws + "/f", Random(200 << 10, 3));
  auto cp = a.Take();
  auto m = a.store->Get(cp.manifest.id());
  REQUIRE(m);
  auto objects = ObjectsOf(a.store->chunks(), m->root());
  REQUIRE(objects);
  PartSender sender;
  auto parts = sender.Fetch(a.store->chunks(), *objects, 0, 1 << 20);
  REQUIRE(parts);
  REQUIRE(parts->size() == objects->size());

  // The manifest before its objects: refused, naming what is missing.
  auto early = b.store->Import(*m);
  REQUIRE_FALSE(early);
  CHECK(early.error().code == ErrorCode::kIncomplete);
  CHECK(b.store->List().empty());

  PartReceiver receiver;
  // A part whose bytes are not its object's.
  std::vector<Part> forged{parts->at(0)};
  forged[0].hash = parts->at(1).hash;
  auto r = receiver.Put(b.store->chunks(), forged);
  REQUIRE_FALSE(r);
  CHECK_FALSE(b.store->chunks().Has(parts->at(1).hash));
  // Garbage that is not zstd.
  std::vector<Part> garbage{Part{parts->at(0).hash, 0, 5, "hello"}};
  CHECK_FALSE(receiver.Put(b.store->chunks(), garbage));
  // A part out of order (offset past what arrived), and one claiming an enormous object.
  std::vector<Part> skipped{Part{parts->at(0).hash, 10, 20, "0123456789"}};
  CHECK_FALSE(receiver.Put(b.store->chunks(), skipped));
  std::vector<Part> huge{Part{parts->at(0).hash, 0, PartReceiver::kMaxObject + 1, "x"}};
  CHECK_FALSE(receiver.Put(b.store->chunks(), huge));
  CHECK(receiver.pending() == 0);
  CHECK(MissingFrom(b.store->chunks(), *objects).size() == objects->size());

  // Malformed manifests: an id that could name a file elsewhere, a root that is no hash.
  v1::CheckpointManifest bad = *m;
  bad.set_id("../../etc/passwd");
  CHECK(b.store->Import(bad).error().code == ErrorCode::kBadRequest);
  bad = *m;
  bad.set_root("short");
  CHECK(b.store->Import(bad).error().code == ErrorCode::kHostileManifest);

  // A transfer broken off mid-object and tried again from its start.
  std::vector<Part> half{parts->at(0)};
  half[0].data.resize(half[0].data.size() / 2);
  REQUIRE(receiver.Put(b.store->chunks(), half));
  CHECK(receiver.pending() == 1);

  // The real parts then go in (twice over: duplicates change nothing), and the import works.
  REQUIRE(receiver.Put(b.store->chunks(), *parts));
  CHECK(receiver.pending() == 0);
  REQUIRE(receiver.Put(b.store->chunks(), *parts));
  REQUIRE(b.store->Import(*m));
  CHECK(b.store->List().size() == 1);
}

TEST_CASE("checkpoint: objects a transfer asked about survive a delete before the import") {
  Fixture a;
  const std::string shared = Random(100 << 10, 5);
  Write(a.ws + "/shared.bin", shared);
  Write(a.ws + "/own.txt", "only a has this\n");
  auto cp = a.Take();
  auto m = a.store->Get(cp.manifest.id());
  REQUIRE(m);
  auto objects = ObjectsOf(a.store->chunks(), m->root());
  REQUIRE(objects);

  // A store whose only copy of shared.bin is in an older checkpoint (its workspace moved on),
  // so it is not sent; that checkpoint is deleted while the transfer is under way.
  struct Destination {
    Fixture f;
    std::string old_id;
    explicit Destination(const std::string& shared) {
      Write(f.ws + "/shared.bin", shared);
      old_id = f.Take().manifest.id();
      fs::remove(f.ws + "/shared.bin");
      Write(f.ws + "/other.txt", "moved on\n");
      f.Take();
      // Opened again: no stat cache in memory still vouches for shared.bin's chunk.
      f.store.reset();
      f.store = f.Open();
    }
  };
  auto transfer = [&](Destination& d, bool hold) {
    auto missing = MissingFrom(d.f.store->chunks(), *objects);
    REQUIRE(missing.size() < objects->size());  // shared.bin's chunk is there
    if (hold) d.f.store->Hold(*objects);        // as the agent does when asked which it lacks
    PartSender sender;
    PartReceiver receiver;
    auto parts = sender.Fetch(a.store->chunks(), missing, 0, 1 << 20);
    REQUIRE(parts);
    REQUIRE(receiver.Put(d.f.store->chunks(), std::move(*parts)));
    REQUIRE(d.f.store->Delete(d.old_id, {}));
    return d.f.store->Import(*m);
  };

  Destination held(shared);
  REQUIRE(transfer(held, true));
  auto restored = held.f.store->Restore(cp.manifest.id(), held.f.tmp / "copy", false);
  REQUIRE(restored);
  CHECK(*ReadFile(held.f.tmp / "copy/shared.bin") == shared);

  // Without the hold, the delete collects the object and the import is refused.
  Destination bare(shared);
  auto refused = transfer(bare, false);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kIncomplete);
}

}  // namespace
}  // namespace autovibe::snapshot
