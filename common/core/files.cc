#include "common/core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace autovibe {
namespace {

Error Errno(const std::string& what, const std::string& path) {
  return MakeError(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode,
                             bool sync) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", tmp);
  // The mode passed to open is filtered by umask; the token file must be exactly `mode`.
  ::fchmod(fd, mode);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
    Error e = Errno("cannot sync", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Errno("cannot rename to", path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

Result<void> MakePrivateFile(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
  if (fd < 0 && errno == ENOENT && !create) return {};
  if (fd < 0) return Errno("cannot open", path);
  if (::fchmod(fd, 0600) != 0) {
    Error e = Errno("cannot chmod", path);
    ::close(fd);
    return e;
  }
  ::close(fd);
  return {};
}

Result<void> MakeDirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(path, ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot create directory " + path + ": " + ec.message());
  // create_directories uses 0777 & ~umask; a new state directory must be exactly `mode`
  // (0700 for the ones holding tokens and databases). An existing one is left as it is.
  if (created && ::chmod(path.c_str(), mode) != 0) return Errno("cannot chmod", path);
  return {};
}

Error IoError(const std::string& what, const std::string& path) {
  return MakeError(ErrorCode::kIo, what + " " + (path.empty() ? std::string(".") : path) + ": " +
                                       std::strerror(errno));
}

}  // namespace autovibe
