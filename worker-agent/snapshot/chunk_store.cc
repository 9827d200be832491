#include "worker-agent/snapshot/chunk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/core/files.h"

namespace autovibe::snapshot {
namespace {

static_assert(std::endian::native == std::endian::little, "the store's records are little endian");

constexpr char kBlockMagic[4] = {'A', 'V', 'B', '1'};
constexpr size_t kBlockFixed = 16;  // magic, count, raw size, frame size
constexpr size_t kPerChunk = 36;    // hash, size
constexpr size_t kRecordBytes = 64;

struct IndexRecord {
  uint8_t hash[32];
  uint32_t pack;
  uint32_t block_bytes;
  uint64_t block_offset;
  uint32_t offset;
  uint32_t size;
  uint8_t reserved[8];
};
static_assert(sizeof(IndexRecord) == kRecordBytes);

// Writes all of `data` at `offset` (or appends when offset is negative).
bool WriteAll(int fd, const char* data, size_t n, off_t offset) {
  while (n > 0) {
    ssize_t w = offset < 0 ? ::write(fd, data, n) : ::pwrite(fd, data, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
    if (offset >= 0) offset += w;
  }
  return true;
}

bool ReadAll(int fd, char* data, size_t n, off_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return true;
}

template <class T>
void PutLe(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
T GetLe(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

// ---- Writer ----

ChunkStore::Writer::Writer(ChunkStore& store) : store_(store) {
  cctx_ = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_compressionLevel,
                         store.options_.zstd_level);
}

ChunkStore::Writer::~Writer() {
  (void)Finish();  // a failure gives the claims back
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
}

Result<uint64_t> ChunkStore::Writer::Put(const Hash& hash, std::span<const uint8_t> bytes) {
  if (bytes.size() > UINT32_MAX / 2) return MakeError(ErrorCode::kTooLarge, "a chunk over 2 GiB");
  if (!store_.Claim(hash)) return uint64_t{0};
  if (!raw_.empty() && raw_.size() + bytes.size() > store_.options_.block_bytes) {
    auto r = WriteBlock();
    if (!r) {
      store_.Release({{hash, 0}});
      return r;
    }
  }
  raw_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  chunks_.emplace_back(hash, static_cast<uint32_t>(bytes.size()));
  if (raw_.size() >= store_.options_.block_bytes) return WriteBlock();
  return uint64_t{0};
}

Result<uint64_t> ChunkStore::Writer::Finish() {
  if (chunks_.empty()) return uint64_t{0};
  return WriteBlock();
}

Result<uint64_t> ChunkStore::Writer::WriteBlock() {
  size_t header = kBlockFixed + kPerChunk * chunks_.size();
  frame_.resize(header + ZSTD_compressBound(raw_.size()));
  size_t n = ZSTD_compress2(static_cast<ZSTD_CCtx*>(cctx_), frame_.data() + header,
                            frame_.size() - header, raw_.data(), raw_.size());
  if (ZSTD_isError(n)) {
    store_.Release(chunks_);
    raw_.clear();
    chunks_.clear();
    return MakeError(ErrorCode::kIo,
                     std::string("zstd could not compress a block: ") + ZSTD_getErrorName(n));
  }
  std::string head;
  head.reserve(header);
  head.append(kBlockMagic, 4);
  PutLe<uint32_t>(head, static_cast<uint32_t>(chunks_.size()));
  PutLe<uint32_t>(head, static_cast<uint32_t>(raw_.size()));
  PutLe<uint32_t>(head, static_cast<uint32_t>(n));
  for (const auto& [hash, size] : chunks_) {
    head.append(hash.view());
    PutLe<uint32_t>(head, size);
  }
  std::memcpy(frame_.data(), head.data(), header);
  frame_.resize(header + n);
  auto r = store_.Append(frame_, chunks_);
  if (!r) store_.Release(chunks_);  // not stored: the next checkpoint stores them
  raw_.clear();
  chunks_.clear();
  if (!r) return r.error();
  added_ += frame_.size();
  return uint64_t{frame_.size()};
}

// ---- ChunkStore ----

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(const std::string& dir, StoreOptions options) {
  if (auto r = MakeDirs(dir + "/packs", 0700); !r) return r.error();
  std::unique_ptr<ChunkStore> store(new ChunkStore(dir, options));
  if (auto r = store->LoadIndex(); !r) return r.error();
  return store;
}

ChunkStore::~ChunkStore() {
  if (index_fd_ >= 0) ::close(index_fd_);
  if (pack_fd_ >= 0) ::close(pack_fd_);
  for (auto& [n, fd] : read_fds_) ::close(fd);
}

std::string ChunkStore::PackPath(uint32_t number) const {
  char name[32];
  std::snprintf(name, sizeof name, "/packs/%08u.pack", number);
  return dir_ + name;
}

Result<void> ChunkStore::LoadIndex() {
  std::string path = dir_ + "/index";
  index_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (index_fd_ < 0) return IoError("cannot open", path);
  struct stat st {};
  ::fstat(index_fd_, &st);
  size_t whole = static_cast<size_t>(st.st_size) / kRecordBytes * kRecordBytes;
  std::string bytes(whole, '\0');
  if (whole > 0 && !ReadAll(index_fd_, bytes.data(), whole, 0)) return IoError("cannot read", path);
  // Pack sizes, to drop records of blocks a crash cut short.
  std::map<uint32_t, uint64_t> pack_sizes;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/packs")) {
    unsigned n = 0;
    if (std::sscanf(e.path().filename().c_str(), "%08u.pack", &n) == 1) {
      pack_sizes[n] = e.file_size();
      pack_number_ = std::max(pack_number_, n);
    }
  }
  for (size_t at = 0; at < whole; at += kRecordBytes) {
    auto rec = GetLe<IndexRecord>(bytes.data() + at);
    auto it = pack_sizes.find(rec.pack);
    if (it == pack_sizes.end() || rec.block_offset + rec.block_bytes > it->second) continue;
    Hash h;
    std::memcpy(h.bytes.data(), rec.hash, 32);
    index_[h] = ChunkLocation{rec.pack, rec.block_offset, rec.block_bytes, rec.offset, rec.size};
  }
  index_bytes_ = whole;
  // A torn record at the end is cut off, so the next ones line up.
  if (whole != static_cast<size_t>(st.st_size) && ::ftruncate(index_fd_, whole) != 0) {
    return IoError("cannot repair", path);
  }
  return OpenPack(pack_number_ + 1);
}

Result<void> ChunkStore::OpenPack(uint32_t number) {
  if (pack_fd_ >= 0) {
    // The pack being closed is made durable now: Sync() only knows the current one.
    if (dirty_ && options_.sync && ::fdatasync(pack_fd_) != 0) {
      return IoError("cannot sync", PackPath(pack_number_));
    }
    ::close(pack_fd_);
  }
  std::string path = PackPath(number);
  pack_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (pack_fd_ < 0) return IoError("cannot create", path);
  pack_number_ = number;
  pack_size_ = 0;
  return {};
}

void ChunkStore::AppendRecord(std::string& out, const Hash& hash, const ChunkLocation& at) {
  IndexRecord rec{};
  std::memcpy(rec.hash, hash.bytes.data(), 32);
  rec.pack = at.pack;
  rec.block_bytes = at.block_bytes;
  rec.block_offset = at.block_offset;
  rec.offset = at.offset;
  rec.size = at.size;
  out.append(reinterpret_cast<const char*>(&rec), sizeof rec);
}

void ChunkStore::Release(const std::vector<std::pair<Hash, uint32_t>>& chunks) {
  std::lock_guard lock(mu_);
  for (const auto& [hash, size] : chunks) claimed_.erase(hash);
}

bool ChunkStore::Claim(const Hash& hash) {
  std::lock_guard lock(mu_);
  if (index_.contains(hash)) return false;
  return claimed_.insert(hash).second;
}

Result<void> ChunkStore::Append(const std::string& block,
                                const std::vector<std::pair<Hash, uint32_t>>& chunks) {
  std::lock_guard lock(mu_);
  if (pack_size_ > 0 && pack_size_ + block.size() > options_.pack_bytes) {
    if (auto r = OpenPack(pack_number_ + 1); !r) return r;
  }
  uint64_t at = pack_size_;
  if (!WriteAll(pack_fd_, block.data(), block.size(), static_cast<off_t>(at))) {
    return IoError("cannot write", PackPath(pack_number_));
  }
  pack_size_ += block.size();
  std::string records;
  records.reserve(chunks.size() * kRecordBytes);
  std::vector<ChunkLocation> locations;
  uint32_t offset = 0;
  for (const auto& [hash, size] : chunks) {
    locations.push_back({pack_number_, at, static_cast<uint32_t>(block.size()), offset, size});
    AppendRecord(records, hash, locations.back());
    offset += size;
  }
  dirty_ = true;
  if (!WriteAll(index_fd_, records.data(), records.size(), -1)) {
    // A record cut short would shift every later one: the index goes back to its last whole
    // record, and the block counts as not stored.
    Error e = IoError("cannot write", dir_ + "/index");
    if (::ftruncate(index_fd_, static_cast<off_t>(index_bytes_)) != 0) {
      e.message += " (and cannot cut it back: reopen the store)";
    }
    return e;
  }
  index_bytes_ += records.size();
  for (size_t i = 0; i < chunks.size(); ++i) {
    index_[chunks[i].first] = locations[i];
    claimed_.erase(chunks[i].first);
  }
  return {};
}

bool ChunkStore::Has(const Hash& hash) const {
  std::lock_guard lock(mu_);
  return index_.contains(hash);
}

std::optional<ChunkLocation> ChunkStore::Find(const Hash& hash) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

Result<std::string> ChunkStore::ReadBlock(uint32_t pack, uint64_t block_offset,
                                          uint32_t block_bytes) const {
  int fd;
  {
    std::lock_guard lock(mu_);
    auto it = read_fds_.find(pack);
    if (it == read_fds_.end()) {
      int f = ::open(PackPath(pack).c_str(), O_RDONLY | O_CLOEXEC);
      if (f < 0) return IoError("cannot open", PackPath(pack));
      it = read_fds_.emplace(pack, f).first;
    }
    fd = it->second;
  }
  std::string block(block_bytes, '\0');
  auto corrupt = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorrupt,
                     "pack " + PackPath(pack) + " at " + std::to_string(block_offset) + ": " + why);
  };
  if (block_bytes < kBlockFixed || !ReadAll(fd, block.data(), block_bytes, block_offset)) {
    return corrupt("the block is cut short");
  }
  if (std::memcmp(block.data(), kBlockMagic, 4) != 0) return corrupt("no block starts here");
  auto count = GetLe<uint32_t>(block.data() + 4);
  auto raw = GetLe<uint32_t>(block.data() + 8);
  auto frame = GetLe<uint32_t>(block.data() + 12);
  size_t header = kBlockFixed + size_t{count} * kPerChunk;
  if (header + frame != block_bytes) return corrupt("the block's sizes disagree");
  std::string out(raw, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), block.data() + header, frame);
  if (ZSTD_isError(n) || n != raw) {
    return corrupt(std::string("cannot decompress: ") +
                   (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
  }
  return out;
}

Result<std::string> ChunkStore::Get(const Hash& hash) const {
  auto loc = Find(hash);
  if (!loc) return MakeError(ErrorCode::kNotFound, "chunk " + hash.hex() + " is not in the store");
  std::shared_ptr<const std::string> block;
  {
    std::lock_guard lock(mu_);
    for (const auto& b : recent_) {
      if (b.pack == loc->pack && b.offset == loc->block_offset) block = b.raw;
    }
  }
  if (!block) {
    auto read = ReadBlock(loc->pack, loc->block_offset, loc->block_bytes);
    if (!read) return read.error();
    block = std::make_shared<const std::string>(std::move(*read));
    std::lock_guard lock(mu_);
    if (recent_.size() >= kRecentBlocks) recent_.erase(recent_.begin());
    recent_.push_back(CachedBlock{loc->pack, loc->block_offset, block});
  }
  if (size_t{loc->offset} + loc->size > block->size()) {
    return MakeError(ErrorCode::kCorrupt, "chunk " + hash.hex() + " lies outside its block");
  }
  std::string bytes = block->substr(loc->offset, loc->size);
  if (Sha256(bytes) != hash) {
    return MakeError(ErrorCode::kCorrupt, "chunk " + hash.hex() + " does not match its hash");
  }
  return bytes;
}

Result<void> ChunkStore::Sync() {
  std::lock_guard lock(mu_);
  if (!dirty_ || !options_.sync) return {};
  if (::fdatasync(pack_fd_) != 0) return IoError("cannot sync", PackPath(pack_number_));
  if (::fdatasync(index_fd_) != 0) return IoError("cannot sync", dir_ + "/index");
  dirty_ = false;
  return {};
}

uint64_t ChunkStore::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/packs", ec)) {
    total += e.file_size(ec);
  }
  return total + std::filesystem::file_size(dir_ + "/index", ec);
}

}  // namespace autovibe::snapshot
