#include "worker-agent/snapshot/create.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "worker-agent/snapshot/beneath.h"
#include "worker-agent/snapshot/chunk_file.h"
#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/scan.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads the files the walk could not vouch for, on threads of their own, from the moment the
// walk finds them until it is over (then the walking thread helps).
class FileReaders final : public JobSink {
 public:
  FileReaders(int root_fd, ChunkStore& store, unsigned threads) : root_fd_(root_fd), store_(store) {
    for (unsigned i = 0; i < threads; ++i) pool_.emplace_back([this] { Work(); });
  }
  ~FileReaders() override { Finish(); }

  void Add(FileJob job) override {
    {
      std::lock_guard lock(mu_);
      if (job.fd >= 0) ++open_files_;
      queue_.push_back(std::move(job));
    }
    more_.notify_one();
  }

  bool TakesOpenFile() const override { return open_files_ < kMaxOpenFiles; }

  // Once the walk is over: reads what is left, waits for the threads. Returns the compressed
  // bytes added to the store; files that vanished meanwhile are added to `skipped`.
  Result<uint64_t> Finish(std::vector<std::string>* skipped = nullptr) {
    {
      std::lock_guard lock(mu_);
      walked_ = true;
    }
    more_.notify_all();
    Work();         // the walking thread helps (and is the only reader with no threads)
    pool_.clear();  // joins
    std::lock_guard lock(mu_);
    for (auto& job : queue_) {  // left by a failure
      if (job.fd >= 0) ::close(job.fd);
    }
    queue_.clear();
    if (skipped != nullptr) skipped->insert(skipped->end(), gone_.begin(), gone_.end());
    if (error_) return *error_;
    return added_;
  }

 private:
  std::optional<FileJob> Next() {
    std::unique_lock lock(mu_);
    more_.wait(lock, [this] { return !queue_.empty() || walked_ || error_; });
    if (queue_.empty() || error_) return std::nullopt;
    FileJob job = std::move(queue_.front());
    queue_.pop_front();
    if (job.fd >= 0) --open_files_;
    return job;
  }

  void Work() {
    ChunkStore::Writer writer(store_);
    std::string buffer;
    while (auto job = Next()) {
      if (auto r = Read(*job, writer, buffer); !r) return Fail(r.error());
    }
    auto last = writer.Finish();
    std::lock_guard lock(mu_);
    if (!last && !error_) error_ = last.error();
    added_ += writer.added_bytes();
  }

  Result<void> Read(FileJob& job, ChunkStore::Writer& writer, std::string& buffer) {
    ScannedEntry& entry = job.entry();
    int fd = job.fd >= 0
                 ? job.fd
                 : OpenBeneath(root_fd_, job.path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return Gone(job, std::strerror(errno));
    auto chunks = ChunkFile(fd, entry.stat.size, writer, buffer);
    struct stat after {};
    bool changed = ::fstat(fd, &after) != 0 || !FileStat::From(after).SameFile(entry.stat);
    ::close(fd);
    if (!chunks) {
      if (chunks.error().code == ErrorCode::kIo && !changed) return chunks.error();
      return Gone(job, chunks.error().message);
    }
    entry.chunks = std::move(*chunks);
    // Written to while read: what was read is kept, but it is read again next time.
    if (changed) entry.stat.ctime_ns = -1;
    return {};
  }

  // A file removed (or replaced by something else) between the walk and the read.
  Result<void> Gone(FileJob& job, const std::string& why) {
    job.entry().gone = true;
    std::lock_guard lock(mu_);
    gone_.push_back(job.path + ": " + why);
    return {};
  }

  void Fail(const Error& e) {
    {
      std::lock_guard lock(mu_);
      if (!error_) error_ = e;
    }
    more_.notify_all();
  }

  int root_fd_;
  ChunkStore& store_;
  std::vector<std::jthread> pool_;
  std::mutex mu_;
  std::condition_variable more_;
  std::deque<FileJob> queue_;
  static constexpr int kMaxOpenFiles = 256;
  std::atomic<int> open_files_{0};
  bool walked_ = false;
  uint64_t added_ = 0;
  std::vector<std::string> gone_;
  std::optional<Error> error_;
};

class TreeWriter {
 public:
  TreeWriter(ChunkStore::Writer& writer, StatCache* next_cache, int64_t racy_after_ns,
             uint64_t max_entries)
      : writer_(writer),
        next_cache_(next_cache),
        racy_after_ns_(racy_after_ns),
        max_entries_(max_entries) {}

  // Stores the tree of `root` and of every directory under it whose tree is not known (what
  // changed), children before parents, on an explicit stack of the directories on the way
  // down.
  Result<Hash> Store(ScannedDir& root) {
    struct Frame {
      ScannedDir* dir;
      size_t next = 0;
      size_t parent_len = 0;  // path_ without this directory
    };
    std::vector<Frame> frames;
    if (!root.tree) frames.push_back({&root});
    while (!frames.empty()) {
      Frame& top = frames.back();
      ScannedDir* below = nullptr;
      while (below == nullptr && top.next < top.dir->entries.size()) {
        ScannedEntry& e = top.dir->entries[top.next++];
        if (e.gone || !e.dir || e.dir->tree) continue;
        below = e.dir.get();
        const size_t len = path_.size();
        if (len > 0) path_ += '/';
        path_ += e.name;
        frames.push_back({below, 0, len});  // `top` moves: not used after this
      }
      if (below != nullptr) continue;
      if (auto r = StoreOne(*top.dir); !r) return r.error();
      path_.resize(top.parent_len);
      frames.pop_back();
    }
    // A walk reads at most max_entries, but walks of what changed add to the last one.
    if (root.entries_under > max_entries_) return TooMany(max_entries_);
    return *root.tree;
  }

 private:
  // A file changed this recently is not trusted by its stat next time.
  void MarkRacy(ScannedEntry& e) const {
    if (e.stat.ctime_ns >= racy_after_ns_ || e.stat.mtime_ns >= racy_after_ns_) {
      e.stat.ctime_ns = -1;
    }
  }

  // The tree of `dir` (at path_), whose subdirectories' trees are all known.
  Result<void> StoreOne(ScannedDir& dir) {
    v1::Tree tree;
    dir.files = 0;
    dir.bytes = 0;
    dir.entries_under = 0;
    for (auto& e : dir.entries) {
      if (e.gone) continue;
      ++dir.entries_under;
      auto* out = tree.add_entries();
      out->set_name(e.name);
      out->set_kind(e.kind);
      // A directory's own stat is as fresh as its last read; its entry's may be older.
      const FileStat& st = e.dir ? e.dir->stat : e.stat;
      out->set_mode(st.mode & 07777);
      out->set_mtime_ns(st.mtime_ns);
      switch (e.kind) {
        case v1::TreeEntry::DIRECTORY:
          out->set_tree(std::string(e.dir->tree->view()));
          dir.files += e.dir->files;
          dir.bytes += e.dir->bytes;
          dir.entries_under += e.dir->entries_under;
          break;
        case v1::TreeEntry::SYMLINK:
          out->set_target(e.target);
          break;
        default: {
          uint64_t size = 0;
          for (const auto& c : e.chunks) size += c.size();
          out->set_size(size);
          *out->mutable_chunks() = {e.chunks.begin(), e.chunks.end()};
          ++dir.files;
          dir.bytes += size;
          if (size != e.stat.size) e.stat.ctime_ns = -1;  // it changed while read
          MarkRacy(e);
          if (next_cache_ != nullptr && e.stat.ctime_ns >= 0) {
            next_cache_->Put(JoinPath(path_, e.name), CachedFile{e.stat, e.chunks});
          }
          break;
        }
      }
    }
    std::string bytes = tree.SerializeAsString();
    if (bytes.size() > kMaxTreeBytes) {
      return MakeError(ErrorCode::kTooLarge,
                       "directory " + ShortPath(path_) + " holds more than one checkpoint tree " +
                           "takes (" + std::to_string(dir.entries.size()) + " entries, " +
                           std::to_string(bytes.size() >> 20) + " MiB)");
    }
    Hash h = Sha256(bytes);
    auto put = writer_.Put(h, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    if (!put) return put.error();
    dir.tree = h;
    return {};
  }

  ChunkStore::Writer& writer_;
  StatCache* next_cache_;  // filled on a full walk
  int64_t racy_after_ns_;
  uint64_t max_entries_;
  std::string path_;  // of the directory being stored
};

// The walk: only what changed when the last one is there and inotify kept up; else all.
Scan Walk(int root_fd, WorkspaceState& state, const ChunkStore& store, JobSink& sink,
          const CreateOptions& options) {
  const bool backstop_due =
      options.full_walk_every > 0 && state.since_full_walk >= options.full_walk_every;
  if (state.last && state.watch && !state.watch->broken() && !backstop_due) {
    auto changes = state.watch->Take();
    if (!changes.everything) {
      return RescanWorkspace(root_fd, std::move(state.last), changes, store, state.watch.get(),
                             sink, options.max_entries);
    }
  }
  // The last walk knows more than the cache from disk.
  if (state.last) state.cache = StatCacheOf(*state.last);
  state.last.reset();
  state.watch = WorkspaceWatch::Start();  // a fresh one: no stale descriptors
  return ScanWorkspace(root_fd, state.cache, store, state.watch.get(), sink, options.max_entries);
}

}  // namespace

Result<Created> CreateCheckpoint(ChunkStore& store, int root_fd, WorkspaceState& state,
                                 const CreateOptions& options) {
  int64_t started_ns = NowNs();
  FileReaders readers(root_fd, store, options.threads);
  // Kept whole until the readers are done: their jobs point into it.
  Scan scan = Walk(root_fd, state, store, readers, options);
  auto added = readers.Finish(&scan.skipped);
  // A walk that stopped short, or that a reader could not finish, leaves no last walk: the
  // next checkpoint walks everything again.
  if (scan.failed) return *scan.failed;
  if (!added) return added.error();
  if (scan.incomplete) {
    state.last.reset();  // the next walk is a full one (which is never incomplete)
    return CreateCheckpoint(store, root_fd, state, options);
  }

  StatCache next;
  ChunkStore::Writer writer(store);
  TreeWriter trees(writer, scan.full ? &next : nullptr, started_ns - options.racy_window.count(),
                   options.max_entries);
  auto root = trees.Store(*scan.root);
  if (!root) return root.error();
  auto last = writer.Finish();
  if (!last) return last.error();
  if (auto r = store.Sync(); !r) return r.error();
  if (scan.full) state.cache = std::move(next);

  Created out;
  out.root = *root;
  out.root_mode = scan.root->stat.mode & 07777;
  out.file_count = scan.root->files;
  out.total_bytes = scan.root->bytes;
  out.stored_bytes = *added + writer.added_bytes();
  out.files_read = scan.files_to_read;
  out.full_walk = scan.full;
  state.since_full_walk = scan.full ? 0 : state.since_full_walk + 1;
  out.skipped = std::move(scan.skipped);
  if (scan.skipped_total > kMaxSkipped) {
    out.skipped.push_back("... and " + std::to_string(scan.skipped_total - kMaxSkipped) + " more");
  }
  state.last = std::move(scan.root);
  return out;
}

}  // namespace autovibe::snapshot
