// Content-addressed storage of chunks (file pieces and trees) on the agent's disk.
//
// Chunks are grouped into blocks of about a megabyte, each compressed with zstd as one frame
// (small files compress together, as in a tar archive) and appended to pack files; an index
// says where each chunk lives. A chunk is stored once however many checkpoints hold it.
//
// Layout under `dir`: packs/NNNNNNNN.pack, index (fixed-size records, appended).
// A block on disk: "AVB1", chunk count, raw size, compressed size (u32 each, little endian),
// then per chunk its hash and size, then the zstd frame; so packs describe themselves.
//
// Thread-safe: writers on several threads may add chunks at once (one lock guards the index
// and the pack being appended to; compression happens outside it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/snapshot/hash.h"

namespace autovibe::snapshot {

// Where a chunk lives: its block, and its place in the block's raw bytes.
struct ChunkLocation {
  uint32_t pack = 0;
  uint64_t block_offset = 0;  // of the block's header in the pack
  uint32_t block_bytes = 0;   // header and frame
  uint32_t offset = 0;        // in the block once decompressed
  uint32_t size = 0;
};

struct StoreOptions {
  int zstd_level = 1;
  size_t block_bytes = 1 << 20;       // raw bytes gathered before a block is compressed
  uint64_t pack_bytes = 64ull << 20;  // a pack is closed past this size
  bool sync = true;                   // Sync() makes what was written durable (fdatasync)
};

class ChunkStore {
 public:
  static Result<std::unique_ptr<ChunkStore>> Open(const std::string& dir, StoreOptions options);
  ~ChunkStore();

  // Gathers chunks into blocks; one per thread. Finish() (or the destructor) writes the last
  // block. A chunk the store holds, or another writer is adding, is skipped.
  class Writer {
   public:
    explicit Writer(ChunkStore& store);
    ~Writer();
    // Returns the compressed bytes this call added to the store (0 while a block gathers).
    Result<uint64_t> Put(const Hash& hash, std::span<const uint8_t> bytes);
    Result<uint64_t> Finish();
    uint64_t added_bytes() const { return added_; }

   private:
    Result<uint64_t> WriteBlock();
    ChunkStore& store_;
    std::string raw_;
    std::vector<std::pair<Hash, uint32_t>> chunks_;
    std::string frame_;
    void* cctx_ = nullptr;
    uint64_t added_ = 0;
  };

  bool Has(const Hash& hash) const;
  std::optional<ChunkLocation> Find(const Hash& hash) const;
  // A chunk's bytes, checked against its hash ("corrupt" when they differ). The last few
  // blocks read this way stay decompressed: trees are read one after another, and many
  // share a block.
  Result<std::string> Get(const Hash& hash) const;
  // A whole block, decompressed (restore reads each block once).
  Result<std::string> ReadBlock(uint32_t pack, uint64_t block_offset, uint32_t block_bytes) const;

  // Makes every block and index record written so far durable.
  Result<void> Sync();

  // Drops every chunk not in `live`: packs holding none are deleted, packs mostly dead are
  // rewritten with their live blocks. Returns the bytes freed.
  Result<uint64_t> Collect(const std::unordered_set<Hash, HashKey>& live);

  uint64_t disk_bytes() const;
  const std::string& dir() const { return dir_; }

 private:
  ChunkStore(std::string dir, StoreOptions options) : dir_(std::move(dir)), options_(options) {}
  Result<void> LoadIndex();
  // Claims `hash` for a writer: false when the store has it or another writer is adding it.
  bool Claim(const Hash& hash);
  // Gives claims back unwritten (the block could not be written): another writer may add them.
  void Release(const std::vector<std::pair<Hash, uint32_t>>& chunks);
  // Appends a finished block; registers its chunks.
  Result<void> Append(const std::string& header_and_frame,
                      const std::vector<std::pair<Hash, uint32_t>>& chunks);
  Result<void> OpenPack(uint32_t number);
  static void AppendRecord(std::string& out, const Hash& hash, const ChunkLocation& at);
  std::string PackPath(uint32_t number) const;

  std::string dir_;
  StoreOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<Hash, ChunkLocation, HashKey> index_;
  std::unordered_set<Hash, HashKey> claimed_;
  int index_fd_ = -1;
  uint64_t index_bytes_ = 0;  // what the index file holds, all whole records
  int pack_fd_ = -1;
  uint32_t pack_number_ = 0;
  uint64_t pack_size_ = 0;
  bool dirty_ = false;
  mutable std::unordered_map<uint32_t, int> read_fds_;
  struct CachedBlock {
    uint32_t pack;
    uint64_t offset;
    std::shared_ptr<const std::string> raw;
  };
  mutable std::vector<CachedBlock> recent_;  // newest last
  static constexpr size_t kRecentBlocks = 8;
};

}  // namespace autovibe::snapshot
