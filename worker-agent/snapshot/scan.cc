#include "worker-agent/snapshot/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "worker-agent/snapshot/beneath.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

class Walker {
 public:
  Walker(int root, const StatCache* cache, const ChunkStore& store, WorkspaceWatch* watch,
         const WorkspaceWatch::Changes* changed, JobSink& sink, Scan& scan)
      : root_(root),
        cache_(cache),
        store_(store),
        watch_(watch),
        changed_(changed),
        sink_(sink),
        scan_(scan) {
    if (changed_ == nullptr) return;
    // Every directory on the way to a changed one is visited (its tree changes too).
    for (const auto& d : changed_->dirs) {
      std::string p = d;
      for (;;) {
        if (!on_path_.insert(p).second || p.empty()) break;
        size_t slash = p.rfind('/');
        p = slash == std::string::npos ? "" : p.substr(0, slash);
      }
    }
  }

  // Reads the directory open at `fd` (taken over), known as `path`, into `dir`. `old` is what
  // the previous walk found there, if anything: entries are taken over from it.
  void Read(int fd, const std::string& path, ScannedDir& dir, ScannedDir* old) {
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      Skip(path, std::strerror(errno));
      return;
    }
    struct stat self {};
    if (::fstat(::dirfd(d), &self) == 0) dir.stat = FileStat::From(self);
    dir.tree.reset();
    std::vector<bool> must_read;
    while (dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string child = JoinPath(path, name);
      struct stat st {};
      if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Skip(child, std::strerror(errno));  // ENOENT: removed meanwhile
        continue;
      }
      ScannedEntry e;
      e.name = std::string(name);
      e.stat = FileStat::From(st);
      ScannedEntry* before = old != nullptr ? Find(*old, e.name) : nullptr;
      bool read = false;
      if (S_ISREG(st.st_mode)) {
        e.kind = v1::TreeEntry::FILE;
        read = !Reuse(e, before, child);
      } else if (S_ISDIR(st.st_mode)) {
        e.kind = v1::TreeEntry::DIRECTORY;
        if (!Dir(::dirfd(d), e, before, child)) continue;
      } else if (S_ISLNK(st.st_mode)) {
        e.kind = v1::TreeEntry::SYMLINK;
        if (!Link(::dirfd(d), e, child)) continue;
      } else {
        Skip(child, "not a file, directory or symbolic link");
        continue;
      }
      dir.entries.push_back(std::move(e));
      must_read.push_back(read);
    }
    std::vector<size_t> order(dir.entries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return dir.entries[a].name < dir.entries[b].name; });
    std::vector<ScannedEntry> sorted;
    sorted.reserve(order.size());
    for (size_t i : order) sorted.push_back(std::move(dir.entries[i]));
    dir.entries = std::move(sorted);
    // The entries stay where they are from here on: their files can be read meanwhile. Opened
    // here, beside their directory, each is one lookup, not a walk from the root.
    for (size_t k = 0; k < order.size(); ++k) {
      if (!must_read[order[k]]) continue;
      ++scan_.files_to_read;
      const std::string& name = dir.entries[k].name;
      int file = sink_.TakesOpenFile()
                     ? ::openat(::dirfd(d), name.c_str(),
                                O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
                     : -1;
      sink_.Add(FileJob{JoinPath(path, name), &dir, k, file});
    }
    ::closedir(d);
  }

  // Visits `dir` (the previous walk's, at `path`): re-read when it changed, else only the
  // way down to what changed below it.
  Result<void> Refresh(const std::string& path, std::unique_ptr<ScannedDir>& dir) {
    if (changed_->dirs.contains(path)) {
      int fd = path.empty() ? ::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                            : OpenBeneath(root_, path, O_RDONLY | O_DIRECTORY);
      if (fd < 0) {
        // Left as it was; the caller walks everything instead. (Failing here would drop
        // directories whose files are being read.)
        scan_.incomplete = true;
        return {};
      }
      // Watched again: the same directory keeps its watch, one made anew at this place gets
      // one before it is read.
      if (watch_ != nullptr) watch_->Add(fd, path);
      auto fresh = std::make_unique<ScannedDir>();
      struct stat self {};
      bool same =
          ::fstat(fd, &self) == 0 && self.st_dev == dir->stat.dev && self.st_ino == dir->stat.ino;
      Read(fd, path, *fresh, same ? dir.get() : nullptr);
      dir = std::move(fresh);
      return {};
    }
    if (!on_path_.contains(path)) return {};
    dir->tree.reset();
    for (auto& e : dir->entries) {
      if (!e.dir) continue;
      if (auto r = Refresh(JoinPath(path, e.name), e.dir); !r) return r;
    }
    return {};
  }

 private:
  static ScannedEntry* Find(ScannedDir& dir, const std::string& name) {
    auto it =
        std::lower_bound(dir.entries.begin(), dir.entries.end(), name,
                         [](const ScannedEntry& e, const std::string& n) { return e.name < n; });
    return it != dir.entries.end() && it->name == name ? &*it : nullptr;
  }

  bool Held(const std::vector<v1::ChunkRef>& chunks) const {
    return std::all_of(chunks.begin(), chunks.end(), [&](const v1::ChunkRef& c) {
      auto h = HashFromBytes(c.hash());
      return h && store_.Has(*h);
    });
  }

  // A file whose chunks are known (from the previous walk or the stat cache): true.
  bool Reuse(ScannedEntry& e, ScannedEntry* before, const std::string& path) {
    if (before != nullptr && before->kind == v1::TreeEntry::FILE && !before->gone &&
        before->stat.SameFile(e.stat) && Held(before->chunks)) {
      e.chunks = std::move(before->chunks);
      return true;
    }
    const CachedFile* cached = cache_ != nullptr ? cache_->Find(path) : nullptr;
    if (cached != nullptr && cached->stat.SameFile(e.stat) && Held(cached->chunks)) {
      e.chunks = cached->chunks;
      return true;
    }
    return false;
  }

  bool Dir(int parent, ScannedEntry& e, ScannedEntry* before, const std::string& path) {
    // The same directory, not another one made at the same place since (which is not
    // watched yet, and holds other things).
    if (before != nullptr && before->dir && before->dir->stat.dev == e.stat.dev &&
        before->dir->stat.ino == e.stat.ino) {
      e.dir = std::move(before->dir);
      e.dir->stat = e.stat;
      if (changed_ != nullptr && !Refresh(path, e.dir)) e.dir.reset();
      if (e.dir) return true;
    }
    int sub = ::openat(parent, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      if (errno != ENOENT) Skip(path, std::strerror(errno));
      return false;
    }
    // Watched before it is read: a change after the read is never missed.
    if (watch_ != nullptr) watch_->Add(sub, path);
    e.dir = std::make_unique<ScannedDir>();
    Read(sub, path, *e.dir, nullptr);
    return true;
  }

  bool Link(int parent, ScannedEntry& e, const std::string& path) {
    std::string target(static_cast<size_t>(e.stat.size) + 1, '\0');
    ssize_t n = ::readlinkat(parent, e.name.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) {
      if (n >= 0 || errno != ENOENT) {
        Skip(path, n < 0 ? std::strerror(errno) : "changed while read");
      }
      return false;
    }
    target.resize(static_cast<size_t>(n));
    // A link out of the workspace would make the checkpoint one a restore refuses.
    int depth = static_cast<int>(std::count(path.begin(), path.end(), '/'));
    if (!TargetStaysInside(target, depth) || !ResolvesBeneath(root_, path)) {
      Skip(path, "a symbolic link out of the workspace (to " + target + ") is not kept");
      return false;
    }
    e.target = std::move(target);
    return true;
  }

  void Skip(const std::string& path, const std::string& why) {
    scan_.skipped.push_back((path.empty() ? "." : path) + ": " + why);
  }

  int root_;
  const StatCache* cache_;
  const ChunkStore& store_;
  WorkspaceWatch* watch_;
  const WorkspaceWatch::Changes* changed_;
  JobSink& sink_;
  Scan& scan_;
  std::unordered_set<std::string> on_path_;
};

void FlattenInto(const ScannedDir& dir, const std::string& path, StatCache& cache) {
  for (const auto& e : dir.entries) {
    std::string child = JoinPath(path, e.name);
    if (e.dir) {
      FlattenInto(*e.dir, child, cache);
    } else if (e.kind == v1::TreeEntry::FILE && !e.gone && e.stat.ctime_ns >= 0) {
      cache.Put(std::move(child), CachedFile{e.stat, e.chunks});
    }
  }
}

}  // namespace

StatCache StatCacheOf(const ScannedDir& root) {
  StatCache cache;
  FlattenInto(root, "", cache);
  return cache;
}

Result<Scan> ScanWorkspace(int root_fd, const StatCache& cache, const ChunkStore& store,
                           WorkspaceWatch* watch, JobSink& sink) {
  Scan scan;
  scan.root = std::make_unique<ScannedDir>();
  // A descriptor of its own, so reading the directory moves no offset the caller shares.
  int fd = ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo,
                     std::string("cannot open the workspace: ") + std::strerror(errno));
  }
  if (watch != nullptr) watch->Add(fd, "");
  Walker w(root_fd, &cache, store, watch, nullptr, sink, scan);
  w.Read(fd, "", *scan.root, nullptr);
  return scan;
}

Result<Scan> RescanWorkspace(int root_fd, std::unique_ptr<ScannedDir> previous,
                             const WorkspaceWatch::Changes& changed, const ChunkStore& store,
                             WorkspaceWatch* watch, JobSink& sink) {
  Scan scan;
  scan.full = false;
  scan.root = std::move(previous);
  Walker w(root_fd, nullptr, store, watch, &changed, sink, scan);
  if (auto r = w.Refresh("", scan.root); !r) return r.error();
  return scan;
}

}  // namespace autovibe::snapshot
