#include "worker-agent/snapshot/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "worker-agent/snapshot/beneath.h"
#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

// Directories this close to the root keep their descriptor open while what is under them is
// walked, so a child is one lookup beside its parent. Deeper ones are closed once read (a
// deep tree would otherwise hold thousands of descriptors and directory buffers), and their
// children are looked up from the deepest directory still open.
constexpr size_t kHeldLevels = 48;

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// What a walk does with a subdirectory it found.
enum class Visit : uint8_t {
  kNone,
  kRead,     // new: read it
  kRefresh,  // taken over from the previous walk: re-read it if it changed, else look below
};

// Depth first on an explicit stack of the directories on the way down; `path_` always names
// the directory on top (or, while one is being entered, that one).
class Walker {
 public:
  Walker(int root, const StatCache* cache, const ChunkStore& store, WorkspaceWatch* watch,
         const WorkspaceWatch::Changes* changed, JobSink& sink, Scan& scan, uint64_t max_entries)
      : max_entries_(max_entries),
        root_(root),
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

  ~Walker() {
    for (auto& f : frames_) {
      if (f.handle != nullptr) ::closedir(f.handle);
    }
  }

  // The whole workspace, from its root open at `fd` (taken over).
  void ScanAll(int fd, ScannedDir& root) {
    if (watch_ != nullptr) watch_->Add(fd, "");
    Read(fd, root, nullptr, 0);
    Run();
  }

  // What changed since `root` was walked.
  void RefreshAll(std::unique_ptr<ScannedDir>& root) {
    Refresh(root, 0);
    Run();
  }

 private:
  struct Frame {
    DIR* handle = nullptr;  // open while within kHeldLevels
    ScannedDir* dir = nullptr;
    size_t parent_len = 0;                       // path_ without this directory
    std::vector<std::pair<size_t, Visit>> todo;  // subdirectories (entry index) to go into
    size_t next = 0;
  };

  void Run() {
    while (!frames_.empty() && !scan_.failed) {
      Frame& top = frames_.back();
      if (top.next == top.todo.size()) {
        if (top.handle != nullptr) ::closedir(top.handle);
        path_.resize(top.parent_len);
        frames_.pop_back();
        continue;
      }
      const auto [index, visit] = top.todo[top.next++];
      ScannedEntry& e = top.dir->entries[index];
      const size_t len = path_.size();
      if (len > 0) path_ += '/';
      path_ += e.name;
      const size_t depth = frames_.size();
      if (depth > static_cast<size_t>(kMaxDepth)) return Fail(TooDeep(path_));
      if (path_.size() > kMaxPathBytes) return Fail(TooLong(path_));
      // `top` moves when a frame is pushed: not used from here on.
      if (visit == Visit::kRead) {
        ReadNew(e, len);
      } else {
        Refresh(e.dir, len);
      }
      if (frames_.size() == depth) path_.resize(len);  // not gone into
    }
  }

  // A new directory at path_ (entry `e` of the directory on top).
  void ReadNew(ScannedEntry& e, size_t parent_len) {
    int fd = OpenHere(e.name);
    if (fd < 0) {
      if (errno != ENOENT) Skip(path_, std::strerror(errno));  // ENOENT: removed meanwhile
      e.gone = true;
      e.dir.reset();
      return;
    }
    // Watched before it is read: a change after the read is never missed.
    if (watch_ != nullptr) watch_->Add(fd, path_);
    Read(fd, *e.dir, nullptr, parent_len);
  }

  // The previous walk's directory at path_: re-read when it changed, else only the way down to
  // what changed below it.
  void Refresh(std::unique_ptr<ScannedDir>& dir, size_t parent_len) {
    if (changed_->dirs.contains(path_)) {
      int fd = path_.empty() ? ::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                             : OpenHere(path_.substr(parent_len == 0 ? 0 : parent_len + 1));
      if (fd < 0) {
        // Left as it was; the caller walks everything instead. (Failing here would drop
        // directories whose files are being read.)
        scan_.incomplete = true;
        return;
      }
      // Watched again: the same directory keeps its watch, one made anew at this place gets
      // one before it is read.
      if (watch_ != nullptr) watch_->Add(fd, path_);
      auto fresh = std::make_unique<ScannedDir>();
      struct stat self {};
      bool same =
          ::fstat(fd, &self) == 0 && self.st_dev == dir->stat.dev && self.st_ino == dir->stat.ino;
      Read(fd, *fresh, same ? dir.get() : nullptr, parent_len);
      dir = std::move(fresh);
      return;
    }
    if (!on_path_.contains(path_)) return;
    dir->tree.reset();
    Frame f{.dir = dir.get(), .parent_len = parent_len};
    for (size_t i = 0; i < dir->entries.size(); ++i) {
      if (dir->entries[i].dir) f.todo.emplace_back(i, Visit::kRefresh);
    }
    frames_.push_back(std::move(f));
  }

  // Opens the directory `name` of the one on top (a plain name beside an open parent, or a
  // path from the deepest directory still open), never through a symbolic link.
  int OpenHere(const std::string& name) {
    if (!frames_.empty() && frames_.back().handle != nullptr) {
      return ::openat(::dirfd(frames_.back().handle), name.c_str(), kDirFlags);
    }
    for (size_t i = frames_.size(); i-- > 0;) {
      if (frames_[i].handle == nullptr) continue;
      const size_t at = frames_[i + 1].parent_len;  // the length of frame i's path
      return OpenBeneath(::dirfd(frames_[i].handle), path_.substr(at == 0 ? 0 : at + 1), kDirFlags);
    }
    return OpenBeneath(root_, path_, kDirFlags);
  }

  // Reads the directory open at `fd` (taken over), at path_, into `dir`, then goes on below it.
  // `old` is what the previous walk found there, if anything: entries are taken over from it.
  void Read(int fd, ScannedDir& dir, ScannedDir* old, size_t parent_len) {
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      Skip(path_, std::strerror(errno));
      return;
    }
    struct stat self {};
    if (::fstat(::dirfd(d), &self) == 0) dir.stat = FileStat::From(self);
    dir.tree.reset();
    std::vector<bool> must_read;
    std::vector<Visit> visits;
    while (dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      if (++scan_.entries > max_entries_) {
        ::closedir(d);
        return Fail(TooMany(max_entries_));
      }
      struct stat st {};
      if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        // ENOENT: removed meanwhile
        if (errno != ENOENT) Skip(JoinPath(path_, name), std::strerror(errno));
        continue;
      }
      ScannedEntry e;
      e.name = std::string(name);
      e.stat = FileStat::From(st);
      ScannedEntry* before = old != nullptr ? Find(*old, e.name) : nullptr;
      bool read = false;
      Visit visit = Visit::kNone;
      if (S_ISREG(st.st_mode)) {
        e.kind = v1::TreeEntry::FILE;
        read = !Reuse(e, before);
      } else if (S_ISDIR(st.st_mode)) {
        e.kind = v1::TreeEntry::DIRECTORY;
        visit = TakeDir(e, before);
      } else if (S_ISLNK(st.st_mode)) {
        e.kind = v1::TreeEntry::SYMLINK;
        if (!Link(::dirfd(d), e)) continue;
      } else {
        Skip(JoinPath(path_, name), "not a file, directory or symbolic link");
        continue;
      }
      dir.entries.push_back(std::move(e));
      must_read.push_back(read);
      visits.push_back(visit);
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
    Frame f{.dir = &dir, .parent_len = parent_len};
    for (size_t k = 0; k < order.size(); ++k) {
      if (visits[order[k]] != Visit::kNone) f.todo.emplace_back(k, visits[order[k]]);
      if (!must_read[order[k]]) continue;
      ++scan_.files_to_read;
      const std::string& name = dir.entries[k].name;
      int file = sink_.TakesOpenFile()
                     ? ::openat(::dirfd(d), name.c_str(),
                                O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
                     : -1;
      sink_.Add(FileJob{JoinPath(path_, name), &dir, k, file});
    }
    if (frames_.size() < kHeldLevels && !f.todo.empty()) {
      f.handle = d;
    } else {
      ::closedir(d);
    }
    frames_.push_back(std::move(f));
  }

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
  bool Reuse(ScannedEntry& e, ScannedEntry* before) {
    if (before != nullptr && before->kind == v1::TreeEntry::FILE && !before->gone &&
        before->stat.SameFile(e.stat) && Held(before->chunks)) {
      e.chunks = std::move(before->chunks);
      return true;
    }
    if (cache_ == nullptr) return false;
    const CachedFile* cached = cache_->Find(JoinPath(path_, e.name));
    if (cached != nullptr && cached->stat.SameFile(e.stat) && Held(cached->chunks)) {
      e.chunks = cached->chunks;
      return true;
    }
    return false;
  }

  // A subdirectory: the previous walk's, when it is the same directory (not another one made
  // at the same place since, which is not watched yet and holds other things); else new.
  Visit TakeDir(ScannedEntry& e, ScannedEntry* before) {
    if (before != nullptr && before->dir && before->dir->stat.dev == e.stat.dev &&
        before->dir->stat.ino == e.stat.ino) {
      e.dir = std::move(before->dir);
      e.dir->stat = e.stat;
      return changed_ != nullptr ? Visit::kRefresh : Visit::kNone;
    }
    e.dir = std::make_unique<ScannedDir>();
    return Visit::kRead;
  }

  // A symbolic link is kept as it is, wherever it points: its target is only read.
  bool Link(int parent, ScannedEntry& e) {
    std::string target(static_cast<size_t>(e.stat.size) + 1, '\0');
    ssize_t n = ::readlinkat(parent, e.name.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) {
      if (n >= 0 || errno != ENOENT) {
        Skip(JoinPath(path_, e.name), n < 0 ? std::strerror(errno) : "changed while read");
      }
      return false;
    }
    target.resize(static_cast<size_t>(n));
    e.target = std::move(target);
    return true;
  }

  void Skip(const std::string& path, const std::string& why) {
    if (scan_.skipped_total++ < kMaxSkipped) scan_.skipped.push_back(ShortPath(path) + ": " + why);
  }

  void Fail(Error e) {
    if (!scan_.failed) scan_.failed = std::move(e);
  }

  uint64_t max_entries_;
  int root_;
  const StatCache* cache_;
  const ChunkStore& store_;
  WorkspaceWatch* watch_;
  const WorkspaceWatch::Changes* changed_;
  JobSink& sink_;
  Scan& scan_;
  std::unordered_set<std::string> on_path_;
  std::vector<Frame> frames_;
  std::string path_;
};

}  // namespace

ScannedDir::~ScannedDir() {
  std::vector<std::unique_ptr<ScannedDir>> doomed;
  for (auto& e : entries) {
    if (e.dir) doomed.push_back(std::move(e.dir));
  }
  while (!doomed.empty()) {
    std::unique_ptr<ScannedDir> d = std::move(doomed.back());
    doomed.pop_back();
    for (auto& e : d->entries) {
      if (e.dir) doomed.push_back(std::move(e.dir));
    }
  }  // each `d` goes holding no directories of its own
}

StatCache StatCacheOf(const ScannedDir& root) {
  StatCache cache;
  std::vector<std::pair<const ScannedDir*, std::string>> pending{{&root, ""}};
  while (!pending.empty()) {
    auto [dir, path] = std::move(pending.back());
    pending.pop_back();
    for (const auto& e : dir->entries) {
      std::string child = JoinPath(path, e.name);
      if (e.dir) {
        pending.emplace_back(e.dir.get(), std::move(child));
      } else if (e.kind == v1::TreeEntry::FILE && !e.gone && e.stat.ctime_ns >= 0) {
        cache.Put(std::move(child), CachedFile{e.stat, e.chunks});
      }
    }
  }
  return cache;
}

Scan ScanWorkspace(int root_fd, const StatCache& cache, const ChunkStore& store,
                   WorkspaceWatch* watch, JobSink& sink, uint64_t max_entries) {
  Scan scan;
  scan.root = std::make_unique<ScannedDir>();
  // A descriptor of its own, so reading the directory moves no offset the caller shares.
  int fd = ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    scan.failed = MakeError(ErrorCode::kIo,
                            std::string("cannot open the workspace: ") + std::strerror(errno));
    return scan;
  }
  Walker w(root_fd, &cache, store, watch, nullptr, sink, scan, max_entries);
  w.ScanAll(fd, *scan.root);
  return scan;
}

Scan RescanWorkspace(int root_fd, std::unique_ptr<ScannedDir> previous,
                     const WorkspaceWatch::Changes& changed, const ChunkStore& store,
                     WorkspaceWatch* watch, JobSink& sink, uint64_t max_entries) {
  Scan scan;
  scan.full = false;
  scan.root = std::move(previous);
  Walker w(root_fd, nullptr, store, watch, &changed, sink, scan, max_entries);
  w.RefreshAll(scan.root);
  return scan;
}

}  // namespace autovibe::snapshot
