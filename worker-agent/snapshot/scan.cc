#include "worker-agent/snapshot/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace autovibe::snapshot {
namespace {

struct Walker {
  const StatCache& cache;
  const ChunkStore& store;
  Scan& scan;

  bool Held(const CachedFile& f) const {
    return std::all_of(f.chunks.begin(), f.chunks.end(), [&](const v1::ChunkRef& c) {
      auto h = HashFromBytes(c.hash());
      return h && store.Has(*h);
    });
  }

  void Skip(const std::string& path, const std::string& why) {
    scan.skipped.push_back((path.empty() ? "." : path) + ": " + why);
  }

  // Reads the directory open at `fd` (taken over) into `dir`.
  void Walk(int fd, const std::string& path, ScannedDir& dir) {
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      Skip(path, std::strerror(errno));
      return;
    }
    while (dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      std::string child = path.empty() ? std::string(name) : path + "/" + std::string(name);
      if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Skip(child, std::strerror(errno));  // ENOENT: removed meanwhile
        continue;
      }
      ScannedEntry e;
      e.name = std::string(name);
      e.stat = FileStat::From(st);
      if (S_ISREG(st.st_mode)) {
        e.kind = v1::TreeEntry::FILE;
        ++scan.file_count;
        scan.total_bytes += e.stat.size;
        const CachedFile* cached = cache.Find(child);
        if (cached != nullptr && cached->stat.SameFile(e.stat) && Held(*cached)) {
          e.chunks = cached->chunks;
        } else {
          e.job = static_cast<int>(scan.jobs.size());
          scan.jobs.push_back(FileJob{std::move(child), nullptr});
        }
      } else if (S_ISDIR(st.st_mode)) {
        e.kind = v1::TreeEntry::DIRECTORY;
        int sub = ::openat(::dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          if (errno != ENOENT) Skip(child, std::strerror(errno));
          continue;
        }
        e.dir = std::make_unique<ScannedDir>();
        e.dir->stat = e.stat;
        Walk(sub, child, *e.dir);
      } else if (S_ISLNK(st.st_mode)) {
        e.kind = v1::TreeEntry::SYMLINK;
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(::dirfd(d), de->d_name, target.data(), target.size());
        if (n < 0 || static_cast<size_t>(n) >= target.size()) {
          if (errno != ENOENT) Skip(child, n < 0 ? std::strerror(errno) : "changed while read");
          continue;
        }
        target.resize(static_cast<size_t>(n));
        e.target = std::move(target);
      } else {
        Skip(child, "not a file, directory or symbolic link");
        continue;
      }
      dir.entries.push_back(std::move(e));
    }
    ::closedir(d);
    std::sort(dir.entries.begin(), dir.entries.end(),
              [](const ScannedEntry& a, const ScannedEntry& b) { return a.name < b.name; });
  }

  // The jobs point at their entries only once every vector has stopped moving.
  void Link(ScannedDir& dir) {
    for (auto& e : dir.entries) {
      if (e.job >= 0) scan.jobs[static_cast<size_t>(e.job)].entry = &e;
      if (e.dir) Link(*e.dir);
    }
  }
};

}  // namespace

Result<Scan> ScanWorkspace(int root_fd, const StatCache& cache, const ChunkStore& store) {
  Scan scan;
  struct stat st {};
  if (::fstat(root_fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError("bad_request", "the workspace is not a directory");
  }
  scan.root.stat = FileStat::From(st);
  // A descriptor of its own, so reading the directory moves no offset the caller shares.
  int fd = ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return MakeError("io", std::string("cannot open the workspace: ") + std::strerror(errno));
  Walker w{cache, store, scan};
  w.Walk(fd, "", scan.root);
  w.Link(scan.root);
  return scan;
}

}  // namespace autovibe::snapshot
