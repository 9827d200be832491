#include "worker-agent/snapshot/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/core/files.h"
#include "worker-agent/snapshot/beneath.h"
#include "worker-agent/snapshot/tree.h"

namespace autovibe::snapshot {
namespace {

namespace fs = std::filesystem;

// The agent runs as root: no file comes back set-user-id or set-group-id (whoever made the
// checkpoint), only permission bits and, on directories, the sticky bit.
constexpr uint32_t kFileModes = 0777;
constexpr uint32_t kDirModes = 01777;

struct Times {
  timespec spec[2]{};
  explicit Times(int64_t ns) {
    spec[0].tv_nsec = UTIME_OMIT;
    spec[1].tv_sec = ns / 1'000'000'000;
    spec[1].tv_nsec = ns % 1'000'000'000;
    if (spec[1].tv_nsec < 0) {
      spec[1].tv_nsec += 1'000'000'000;
      --spec[1].tv_sec;
    }
  }
};

struct FileOut {
  std::string path;
  uint32_t mode = 0;
  int64_t mtime_ns = 0;
  bool whole = false;  // one chunk: created and written in one go
};

struct Piece {
  size_t file;
  uint64_t offset;
};

struct NeededChunk {
  Hash hash;
  ChunkLocation at;
  std::vector<Piece> pieces;
};

struct Block {
  uint32_t pack;
  uint64_t offset;
  uint32_t bytes;
  std::vector<size_t> chunks;  // into Plan::chunks
};

struct Plan {
  std::vector<FileOut> files;
  std::vector<NeededChunk> chunks;
  std::unordered_map<Hash, size_t, HashKey> chunk_index;
  std::vector<std::tuple<std::string, uint32_t, int64_t>> dirs;  // in creation order
  Restored counts;
};

// Builds the directories, the symbolic links and the plan of what goes where, one directory
// at a time (WalkTrees: an explicit stack, the shared depth limit); creates files of several
// chunks (sized) and empty ones. Everything is made inside a directory opened beneath the
// root without following a link, by one plain name: nothing is written through a link.
class Planner {
 public:
  Planner(const ChunkStore& store, int root) : store_(store), root_(root) {}

  Result<void> Run(const Hash& root_hash) {
    TreeWalk walk;
    walk.visit = [this](const v1::Tree& tree, const std::string& path, int) {
      return Dir(tree, path);
    };
    return WalkTrees(store_, root_hash.view(), walk);
  }

  Plan& plan() { return plan_; }

 private:
  Result<void> Dir(const v1::Tree& tree, const std::string& path) {
    int dir = path.empty() ? root_ : OpenBeneath(root_, path, O_PATH | O_DIRECTORY);
    if (dir < 0) return IoError("cannot open", ShortPath(path));
    auto r = Entries(tree, path, dir);
    if (dir != root_) ::close(dir);
    return r;
  }

  Result<void> Entries(const v1::Tree& tree, const std::string& path, int dir) {
    for (const auto& e : tree.entries()) {
      const std::string& name = e.name();
      if (e.kind() == v1::TreeEntry::DIRECTORY) {
        if (::mkdirat(dir, name.c_str(), 0700) != 0) {
          return IoError("cannot create", ShortPath(JoinPath(path, name)));
        }
        plan_.dirs.emplace_back(JoinPath(path, name), e.mode() & kDirModes, e.mtime_ns());
        ++plan_.counts.directories;
      } else if (e.kind() == v1::TreeEntry::SYMLINK) {
        // Its target as it was stored, wherever it points: created, never followed.
        if (::symlinkat(e.target().c_str(), dir, name.c_str()) != 0) {
          return IoError("cannot create", ShortPath(JoinPath(path, name)));
        }
        Times t(e.mtime_ns());
        ::utimensat(dir, name.c_str(), t.spec, AT_SYMLINK_NOFOLLOW);
        ++plan_.counts.symlinks;
      } else if (auto r = File(e, path, dir); !r) {
        return r;
      }
    }
    return {};
  }

  Result<void> File(const v1::TreeEntry& e, const std::string& dir_path, int dir) {
    std::string path = JoinPath(dir_path, e.name());
    size_t index = plan_.files.size();
    bool whole = e.chunks_size() == 1;
    uint64_t size = 0;
    for (const auto& c : e.chunks()) {
      auto h = *HashFromBytes(c.hash());  // checked by LoadTree
      auto [it, added] = plan_.chunk_index.try_emplace(h, plan_.chunks.size());
      if (added) {
        auto at = store_.Find(h);
        if (!at) {
          return MakeError(ErrorCode::kCorrupt, "file " + ShortPath(path) + ": chunk " + h.hex() +
                                                    " is missing from the store");
        }
        plan_.chunks.push_back(NeededChunk{h, *at, {}});
      }
      if (plan_.chunks[it->second].at.size != c.size()) {
        return MakeError(ErrorCode::kCorrupt, "file " + ShortPath(path) + ": chunk " + h.hex() +
                                                  " is " +
                                                  std::to_string(plan_.chunks[it->second].at.size) +
                                                  " bytes in the store, " +
                                                  std::to_string(c.size()) + " in the checkpoint");
      }
      plan_.chunks[it->second].pieces.push_back(Piece{index, size});
      size += c.size();
    }
    if (!whole) {
      int fd = OpenBeneath(dir, e.name(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
      if (fd < 0) return IoError("cannot create", ShortPath(path));
      bool sized = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
      ::close(fd);
      if (!sized) return IoError("cannot size", ShortPath(path));
    }
    plan_.files.push_back(FileOut{std::move(path), e.mode() & kFileModes, e.mtime_ns(), whole});
    ++plan_.counts.files;
    plan_.counts.bytes += size;
    return {};
  }

  const ChunkStore& store_;
  int root_;
  Plan plan_;
};

// Decompresses each block once and writes its chunks where they belong, on several threads.
class Writers {
 public:
  Writers(const ChunkStore& store, int root, Plan& plan) : store_(store), root_(root), plan_(plan) {
    std::map<std::pair<uint32_t, uint64_t>, size_t> by_block;
    for (size_t i = 0; i < plan.chunks.size(); ++i) {
      const auto& at = plan.chunks[i].at;
      auto [it, added] = by_block.try_emplace({at.pack, at.block_offset}, blocks_.size());
      if (added) blocks_.push_back(Block{at.pack, at.block_offset, at.block_bytes, {}});
      blocks_[it->second].chunks.push_back(i);
    }
  }

  Result<void> Run(unsigned threads) {
    std::vector<std::jthread> pool;
    unsigned n = std::min<unsigned>(threads, static_cast<unsigned>(blocks_.size() / 2 + 1));
    for (unsigned i = 1; i < n; ++i) pool.emplace_back([this] { Work(); });
    Work();
    pool.clear();
    if (error_) return *error_;
    return {};
  }

 private:
  void Work() {
    for (size_t b = next_++; b < blocks_.size() && !failed_; b = next_++) {
      const Block& block = blocks_[b];
      auto raw = store_.ReadBlock(block.pack, block.offset, block.bytes);
      for (size_t c : block.chunks) {
        const NeededChunk& chunk = plan_.chunks[c];
        const FileOut& first = plan_.files[chunk.pieces.front().file];
        if (!raw) return Fail(Corrupt(first, chunk, raw.error().message));
        if (size_t{chunk.at.offset} + chunk.at.size > raw->size()) {
          return Fail(Corrupt(first, chunk, "it lies outside its block"));
        }
        std::string_view bytes(raw->data() + chunk.at.offset, chunk.at.size);
        if (Sha256(bytes) != chunk.hash) {
          return Fail(Corrupt(first, chunk, "its bytes do not match its hash"));
        }
        for (const Piece& p : chunk.pieces) {
          if (auto r = Write(plan_.files[p.file], p.offset, bytes); !r) return Fail(r.error());
        }
      }
    }
  }

  static Error Corrupt(const FileOut& file, const NeededChunk& chunk, const std::string& why) {
    return MakeError(ErrorCode::kCorrupt, "file " + ShortPath(file.path) + ": chunk " +
                                              chunk.hash.hex() + " is corrupt: " + why);
  }

  Result<void> Write(const FileOut& f, uint64_t offset, std::string_view bytes) {
    int flags = f.whole ? O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW : O_WRONLY | O_NOFOLLOW;
    int fd = OpenBeneath(root_, f.path, flags, 0600);
    if (fd < 0) return IoError("cannot open", ShortPath(f.path));
    bool ok = true;
    while (ok && !bytes.empty()) {
      ssize_t w = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (w < 0 && errno == EINTR) continue;
      ok = w > 0;
      if (ok) {
        bytes.remove_prefix(static_cast<size_t>(w));
        offset += static_cast<uint64_t>(w);
      }
    }
    if (ok && f.whole) {
      Times t(f.mtime_ns);
      ok = ::fchmod(fd, f.mode) == 0 && ::futimens(fd, t.spec) == 0;
    }
    int saved = errno;
    ::close(fd);
    errno = saved;
    if (!ok) return IoError("cannot write", ShortPath(f.path));
    return {};
  }

  void Fail(const Error& e) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = e;
    failed_ = true;
  }

  const ChunkStore& store_;
  int root_;
  Plan& plan_;
  std::vector<Block> blocks_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::optional<Error> error_;
};

// Sets the mode and time of what is open at `fd` (a file or directory we made), and closes it.
Result<void> SetModeAndTime(int fd, uint32_t mode, int64_t mtime_ns, const std::string& path) {
  if (fd < 0) return IoError("cannot open", ShortPath(path));
  Times t(mtime_ns);
  bool ok = ::fchmod(fd, mode) == 0 && ::futimens(fd, t.spec) == 0;
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) return IoError("cannot set the mode or time of", ShortPath(path));
  return {};
}

// Modes and times once every byte is in, each through a descriptor opened beneath the root
// without following links; directories deepest first (a read-only one is filled by then).
Result<void> Finish(int root, const Plan& plan, uint32_t root_mode) {
  for (const auto& f : plan.files) {
    if (f.whole) continue;
    int fd = OpenBeneath(root, f.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (auto r = SetModeAndTime(fd, f.mode, f.mtime_ns, f.path); !r) return r;
  }
  for (auto it = plan.dirs.rbegin(); it != plan.dirs.rend(); ++it) {
    const auto& [path, mode, mtime] = *it;
    int fd = OpenBeneath(root, path, O_RDONLY | O_DIRECTORY);
    if (auto r = SetModeAndTime(fd, mode, mtime, path); !r) return r;
  }
  if (::fchmod(root, root_mode & kDirModes) != 0) return IoError("cannot set the mode of", "");
  return {};
}

Result<Restored> Fill(const ChunkStore& store, const Hash& root_hash, uint32_t root_mode, int root,
                      const RestoreOptions& options) {
  Planner planner(store, root);
  if (auto r = planner.Run(root_hash); !r) return r.error();
  Plan& plan = planner.plan();
  Writers writers(store, root, plan);
  if (auto r = writers.Run(options.threads); !r) return r.error();
  if (auto r = Finish(root, plan, root_mode); !r) return r.error();
  return plan.counts;
}

}  // namespace

Result<Restored> RestoreTree(const ChunkStore& store, const Hash& root_hash, uint32_t root_mode,
                             const std::string& target, const RestoreOptions& options) {
  fs::path dest = fs::path(target).lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();
  std::error_code ec;
  bool exists = fs::symlink_status(dest, ec).type() != fs::file_type::not_found;
  if (exists && !options.replace) {
    return MakeError(ErrorCode::kConflict,
                     target + " already exists: restore into a new directory");
  }
  if (exists && !fs::is_directory(fs::symlink_status(dest, ec))) {
    return MakeError(ErrorCode::kConflict, target + " is not a directory");
  }
  // Beside the target, so the swap is a rename on one file system.
  std::string pattern = (dest.parent_path() / ("." + dest.filename().string() + ".restore-XXXXXX"));
  if (::mkdtemp(pattern.data()) == nullptr) return IoError("cannot create", pattern);
  const std::string fresh = pattern;
  int root = ::open(fresh.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) {
    Error e = IoError("cannot open", fresh);
    fs::remove_all(fresh, ec);
    return e;
  }
  auto filled = Fill(store, root_hash, root_mode, root, options);
  ::close(root);
  if (!filled) {
    fs::remove_all(fresh, ec);
    return filled.error();
  }
  if (!exists) {
    if (::rename(fresh.c_str(), dest.c_str()) != 0) {
      Error e = IoError("cannot move the restored tree to", dest.string());
      fs::remove_all(fresh, ec);
      return e;
    }
    return filled;
  }
  // Swapped in one step: at no moment is the workspace half old, half new.
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) != 0) {
    Error e = IoError("cannot swap the restored tree in at", dest.string());
    fs::remove_all(fresh, ec);
    return e;
  }
  fs::remove_all(fresh, ec);  // now the old workspace
  return filled;
}

}  // namespace autovibe::snapshot
