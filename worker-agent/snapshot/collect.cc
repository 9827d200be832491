// ChunkStore::Collect: dropping chunks no checkpoint holds any more.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "common/core/files.h"
#include "worker-agent/snapshot/chunk_store.h"

namespace autovibe::snapshot {
namespace {

namespace fs = std::filesystem;

// A pack is rewritten when less than this share of it is still held.
constexpr double kRewriteBelow = 0.75;

struct BlockInfo {
  uint32_t bytes = 0;
  bool live = false;
};

}  // namespace

Result<uint64_t> ChunkStore::Collect(const std::unordered_set<Hash, HashKey>& live) {
  std::lock_guard lock(mu_);
  // The pack being appended to is closed, so it is judged like the others.
  if (pack_size_ > 0) {
    if (auto r = OpenPack(pack_number_ + 1); !r) return r.error();
  }
  // pack -> block offset -> block
  std::map<uint32_t, std::map<uint64_t, BlockInfo>> packs;
  for (const auto& [hash, at] : index_) {
    BlockInfo& b = packs[at.pack][at.block_offset];
    b.bytes = at.block_bytes;
    b.live |= live.contains(hash);
  }
  // Live blocks of packs mostly dead are copied, as they are, to the new pack; the index is
  // written anew; only then do the old packs go. A crash in between leaves the old index and
  // packs whole (and some copies nobody names, collected next time).
  uint64_t freed = 0;
  std::map<std::pair<uint32_t, uint64_t>, std::pair<uint32_t, uint64_t>> moved;
  std::vector<std::pair<uint32_t, fs::path>> doomed;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/packs", ec)) {
    unsigned n = 0;
    if (std::sscanf(e.path().filename().c_str(), "%08u.pack", &n) != 1) continue;
    if (n == pack_number_) continue;  // the new one, which the live blocks go to
    uint64_t size = e.file_size(ec);
    if (ec)
      return MakeError(ErrorCode::kIo, "cannot size " + e.path().string() + ": " + ec.message());
    uint64_t held = 0;
    for (const auto& [offset, b] : packs[n]) held += b.live ? b.bytes : 0;
    if (held > 0 && static_cast<double>(held) >= kRewriteBelow * static_cast<double>(size)) {
      continue;
    }
    if (held > 0) {
      int in = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (in < 0) return IoError("cannot open", e.path());
      std::string block;
      for (const auto& [offset, b] : packs[n]) {
        if (!b.live) continue;
        block.resize(b.bytes);
        ssize_t r = ::pread(in, block.data(), b.bytes, static_cast<off_t>(offset));
        if (r != static_cast<ssize_t>(b.bytes) ||
            ::pwrite(pack_fd_, block.data(), b.bytes, static_cast<off_t>(pack_size_)) !=
                static_cast<ssize_t>(b.bytes)) {
          ::close(in);
          return IoError("cannot move a block of", e.path());
        }
        moved[{n, offset}] = {pack_number_, pack_size_};
        pack_size_ += b.bytes;
      }
      ::close(in);
    }
    freed += size - held;
    doomed.emplace_back(n, e.path());
  }
  if (ec) return MakeError(ErrorCode::kIo, "cannot list " + dir_ + "/packs: " + ec.message());
  if (doomed.empty()) return uint64_t{0};
  if (options_.sync && ::fdatasync(pack_fd_) != 0)
    return IoError("cannot sync", PackPath(pack_number_));

  std::unordered_map<Hash, ChunkLocation, HashKey> next;
  std::set<uint32_t> gone;
  for (const auto& [n, path] : doomed) gone.insert(n);
  for (const auto& [hash, at] : index_) {
    if (!gone.contains(at.pack)) {
      next.emplace(hash, at);
    } else if (auto m = moved.find({at.pack, at.block_offset}); m != moved.end()) {
      ChunkLocation to = at;
      to.pack = m->second.first;
      to.block_offset = m->second.second;
      next.emplace(hash, to);
    }
  }
  std::string records;
  records.reserve(next.size() * 64);
  for (const auto& [hash, at] : next) AppendRecord(records, hash, at);
  std::string path = dir_ + "/index";
  if (auto r = WriteFileAtomic(path, records, 0600); !r) return r.error();
  ::close(index_fd_);
  index_fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (index_fd_ < 0) return IoError("cannot open", path);
  index_bytes_ = records.size();
  index_ = std::move(next);
  recent_.clear();  // blocks have moved

  for (const auto& [n, pack] : doomed) {
    if (auto fd = read_fds_.find(n); fd != read_fds_.end()) {
      ::close(fd->second);
      read_fds_.erase(fd);
    }
    ::unlink(pack.c_str());  // a pack left behind is only space: nothing names it
  }
  return freed;
}

}  // namespace autovibe::snapshot
