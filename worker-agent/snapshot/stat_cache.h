// What a checkpoint learnt about each file it read, so the next one can trust a file whose
// inode, size, mtime and ctime are unchanged without reading it again.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/hash.h"

namespace autovibe::snapshot {

struct FileStat {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint32_t mode = 0;  // type and permission bits
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  static FileStat From(const struct stat& st);
  bool SameFile(const FileStat& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns &&
           ctime_ns == o.ctime_ns && mode == o.mode;
  }
};

struct CachedFile {
  FileStat stat;
  std::vector<v1::ChunkRef> chunks;
};

class StatCache {
 public:
  const CachedFile* Find(const std::string& path) const {
    auto it = files_.find(path);
    return it == files_.end() ? nullptr : &it->second;
  }
  void Put(std::string path, CachedFile file) { files_[std::move(path)] = std::move(file); }
  void Clear() { files_.clear(); }
  size_t size() const { return files_.size(); }

  // Adds every chunk the cache vouches for to `live`.
  template <class Set>
  void MarkLive(Set& live) const {
    for (const auto& [path, f] : files_) {
      for (const auto& c : f.chunks) {
        if (auto h = HashFromBytes(c.hash())) live.insert(*h);
      }
    }
  }

  Result<void> Save(const std::string& path) const;
  // A missing or unreadable cache is an empty one (files are read again, nothing is lost).
  static StatCache Load(const std::string& path);

 private:
  std::unordered_map<std::string, CachedFile> files_;
};

}  // namespace autovibe::snapshot
