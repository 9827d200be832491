// flock on "<path>.lock": one git at a time on a mirror (or one spare checkout in the making),
// across the agent's threads. Released when the object goes. The lock file's mtime says when
// the path was last used (retention.h).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace autovibe::repo {

class PathLock {
 public:
  explicit PathLock(const std::string& path)
      : fd_(open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
    if (fd_ >= 0) futimens(fd_, nullptr);
  }
  ~PathLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  PathLock(const PathLock&) = delete;
  PathLock& operator=(const PathLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace autovibe::repo
