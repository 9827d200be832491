#include "worker-agent/snapshot/stat_cache.h"

#include "common/core/files.h"

namespace autovibe::snapshot {
namespace {

int64_t Ns(const struct timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

FileStat FileStat::From(const struct stat& st) {
  return FileStat{.dev = st.st_dev,
                  .ino = st.st_ino,
                  .mode = st.st_mode,
                  .size = static_cast<uint64_t>(st.st_size),
                  .mtime_ns = Ns(st.st_mtim),
                  .ctime_ns = Ns(st.st_ctim)};
}

Result<void> StatCache::Save(const std::string& path) const {
  v1::StatCacheFile out;
  out.mutable_files()->Reserve(static_cast<int>(files_.size()));
  for (const auto& [name, f] : files_) {
    auto* e = out.add_files();
    e->set_path(name);
    e->set_dev(f.stat.dev);
    e->set_ino(f.stat.ino);
    e->set_mode(f.stat.mode);
    e->set_size(f.stat.size);
    e->set_mtime_ns(f.stat.mtime_ns);
    e->set_ctime_ns(f.stat.ctime_ns);
    for (const auto& c : f.chunks) *e->add_chunks() = c;
  }
  return WriteFileAtomic(path, out.SerializeAsString(), 0600, false);  // a cache: not synced
}

StatCache StatCache::Load(const std::string& path) {
  StatCache cache;
  auto bytes = ReadFile(path);
  v1::StatCacheFile in;
  if (!bytes || !in.ParseFromString(*bytes)) return cache;
  for (auto& e : *in.mutable_files()) {
    CachedFile f{.stat = {.dev = e.dev(),
                          .ino = e.ino(),
                          .mode = e.mode(),
                          .size = e.size(),
                          .mtime_ns = e.mtime_ns(),
                          .ctime_ns = e.ctime_ns()},
                 .chunks = {e.chunks().begin(), e.chunks().end()}};
    cache.files_.emplace(std::move(*e.mutable_path()), std::move(f));
  }
  return cache;
}

}  // namespace autovibe::snapshot
