#include "worker-agent/box/owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/core/files.h"

namespace autovibe::box {
namespace {

struct Level {
  dev_t dev;
  ino_t ino;
  std::vector<std::string> subdirs;  // still to visit
};

Error Io(const std::string& what, const std::string& where) {
  return MakeError(ErrorCode::kIo, what + " " + where + ": " + std::strerror(errno));
}

// A file of a repository's history that a checkout shares by hard link with the agent's mirror
// (repo/workspace_repo.h): the root's, linked more than once. Given to the task, it could be
// written through the link into the mirror and every other checkout of that repository.
bool SharedHistory(int fd, const dirent* e) {
  if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) return false;
  struct stat st {};
  if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISREG(st.st_mode) && st.st_nlink > 1 && st.st_uid == 0;
}

// Gives every entry of the directory `fd` to uid:gid and returns its subdirectories. Takes
// ownership of nothing; `fd` stays open.
Result<std::vector<std::string>> GiveEntries(int fd, uid_t uid, gid_t gid,
                                             const std::string& where) {
  const int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return Io("cannot read", where);
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    close(dup_fd);
    return Io("cannot read", where);
  }
  std::vector<std::string> subdirs;
  while (dirent* e = readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      is_dir = S_ISDIR(st.st_mode);
    }
    if (is_dir) {
      subdirs.emplace_back(name);
    } else if (SharedHistory(fd, e)) {
      continue;  // stays the agent's, read-only
    } else if (fchownat(fd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT) {
      const Error err = Io("cannot chown", where + "/" + std::string(name));
      closedir(dir);
      return err;
    }
  }
  closedir(dir);
  return subdirs;
}

// Opens a directory entry without following a symlink and gives it to uid:gid.
Result<Level> Enter(int fd, uid_t uid, gid_t gid, const std::string& where) {
  struct stat st {};
  if (fchown(fd, uid, gid) != 0 || fstat(fd, &st) != 0) return Io("cannot chown", where);
  auto subdirs = GiveEntries(fd, uid, gid, where);
  if (!subdirs) return subdirs.error();
  return Level{st.st_dev, st.st_ino, std::move(*subdirs)};
}

}  // namespace

Result<void> GiveTree(const std::string& root, uid_t uid, gid_t gid) {
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Io("cannot open", root);
  if (fchmod(fd, 0700) != 0) {
    const Error err = Io("cannot chmod", root);
    close(fd);
    return err;
  }
  std::vector<Level> stack;
  auto top = Enter(fd, uid, gid, root);
  if (!top) {
    close(fd);
    return top.error();
  }
  stack.push_back(std::move(*top));
  while (!stack.empty()) {
    Level& level = stack.back();
    if (level.subdirs.empty()) {
      stack.pop_back();
      if (stack.empty()) break;
      // Back up through "..", which must be the directory we came down from.
      const int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      struct stat st {};
      const bool same = parent >= 0 && fstat(parent, &st) == 0 && st.st_dev == stack.back().dev &&
                        st.st_ino == stack.back().ino;
      close(fd);
      fd = parent;
      if (!same) {
        if (fd >= 0) close(fd);
        return MakeError(ErrorCode::kIo,
                         "the tree under " + root + " changed while it was chowned");
      }
      continue;
    }
    const std::string name = std::move(level.subdirs.back());
    level.subdirs.pop_back();
    const int child = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // gone or replaced
      const Error err = Io("cannot open", root + "/.../" + name);
      close(fd);
      return err;
    }
    auto next = Enter(child, uid, gid, root + "/.../" + name);
    if (!next) {
      close(child);
      close(fd);
      return next.error();
    }
    close(fd);
    fd = child;
    stack.push_back(std::move(*next));
  }
  if (fd >= 0) close(fd);
  return {};
}

Result<void> PrepareOwnedDir(const std::string& dir, uid_t uid, gid_t gid) {
  if (auto r = MakeDirs(dir, 0700); !r) return r.error();
  return GiveTree(dir, uid, gid);
}

}  // namespace autovibe::box
