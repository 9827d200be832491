// Moving a checkpoint between two agents' stores, one step at a time (the controller drives
// the steps over the bus; see ListObjects in command.proto): the source lists the objects a
// checkpoint holds (its trees and chunks), the destination says which it lacks, only those
// travel, zstd-compressed and cut into parts that fit a bus message, and the destination
// checks every object against its hash before storing it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/hash.h"
#include "worker-agent/snapshot/limits.h"

namespace autovibe::snapshot {

// Every tree and chunk under the tree `root` (32 raw bytes), each once, trees before what
// they hold. Trees are judged as a restore judges them; more than kMaxDepth directories deep
// is refused (limits.h).
Result<std::vector<Hash>> ObjectsOf(const ChunkStore& store, std::string_view root);

// Of `hashes`, those `store` lacks, in order.
std::vector<Hash> MissingFrom(const ChunkStore& store, std::span<const Hash> hashes);

struct Part {
  Hash hash;
  uint64_t offset = 0;  // into the object's compressed bytes
  uint64_t total = 0;   // the object's compressed length
  std::string data;
};

// The source's side. Keeps the last object it compressed: a large one goes out in several
// parts, fetched one after another.
class PartSender {
 public:
  // Parts of `hashes` in order, from `offset` into the first, until about `max_bytes` of
  // data. Fails when the store lacks one of them.
  Result<std::vector<Part>> Fetch(const ChunkStore& store, std::span<const Hash> hashes,
                                  uint64_t offset, size_t max_bytes);

 private:
  Result<const std::string*> Compressed(const ChunkStore& store, const Hash& hash);
  Hash last_hash_{};
  std::string last_;
  bool have_last_ = false;
};

struct PutReport {
  size_t stored = 0;  // objects completed and stored by this call
  uint64_t bytes = 0;
};

// The destination's side: gathers each object's parts in order, then decompresses it, checks
// it against its hash and stores it. An object whose parts arrive out of order, or which is
// too large, is refused and forgotten; a part at offset 0 starts its object again (a transfer
// tried anew), and objects left unfinished longer than kAbandoned are dropped.
class PartReceiver {
 public:
  static constexpr uint64_t kMaxObject = 64ull << 20;  // compressed or not
  static_assert(kMaxTreeBytes <= kMaxObject, "every tree a checkpoint stores can travel");
  static constexpr uint64_t kMaxPending = 256ull << 20;  // all objects in flight
  static constexpr std::chrono::minutes kAbandoned{10};

  Result<PutReport> Put(ChunkStore& store, std::vector<Part> parts);
  size_t pending() const { return pending_.size(); }

 private:
  Result<void> Complete(ChunkStore::Writer& writer, const Hash& hash, const std::string& data);
  struct Pending {
    std::string data;
    std::chrono::steady_clock::time_point last;
  };
  void Drop(std::map<Hash, Pending>::iterator it);
  std::map<Hash, Pending> pending_;
  uint64_t pending_bytes_ = 0;
};

}  // namespace autovibe::snapshot
