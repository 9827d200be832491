#include "controller/secrets/secret_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include "common/core/files.h"

namespace autovibe {
namespace {

// A secret's file: this header line, then the value's bytes as given.
constexpr std::string_view kMagic = "autovibe-secret 1 ";
// Temp files start with '.', which no secret name may: they never collide with a secret.
constexpr std::string_view kTempPrefix = ".tmp-";

struct SecretFile {
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string value;
};

std::string Header(int64_t created_ms, int64_t updated_ms) {
  return std::string(kMagic) + std::to_string(created_ms) + " " + std::to_string(updated_ms) + "\n";
}

bool ParseInt(std::string_view text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The header and value of a secret's file; nullopt when it is not one.
std::optional<SecretFile> ParseSecretFile(std::string_view content) {
  if (!content.starts_with(kMagic)) return std::nullopt;
  const size_t eol = content.find('\n');
  if (eol == std::string::npos) return std::nullopt;
  std::string_view times = content.substr(kMagic.size(), eol - kMagic.size());
  const size_t space = times.find(' ');
  SecretFile f;
  if (space == std::string_view::npos || !ParseInt(times.substr(0, space), f.created_at_ms) ||
      !ParseInt(times.substr(space + 1), f.updated_at_ms)) {
    return std::nullopt;
  }
  f.value = std::string(content.substr(eol + 1));
  return f;
}

// Reads a whole file without following a symlink put in the secrets directory.
Result<std::string> ReadPrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no such secret");
    if (errno == ELOOP) return MakeError(ErrorCode::kCorrupt, path + " is a symlink");
    return IoError("cannot open", path);
  }
  std::string out;
  char buf[16 << 10];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = errno == EISDIR ? MakeError(ErrorCode::kCorrupt, path + " is a directory")
                                : IoError("cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // Header and value: anything larger is not one of ours.
    if (out.size() > kMaxSecretBytes + 128) {
      ::close(fd);
      return MakeError(ErrorCode::kCorrupt, path + " is larger than any secret");
    }
  }
  ::close(fd);
  return out;
}

Result<void> SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", dir);
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return IoError("cannot sync", dir);
  return {};
}

// Writes `content` to `path` whole or not at all, readable by the owner only.
Result<void> WriteWhole(const std::string& dir, const std::string& tmp, const std::string& path,
                        const std::string& content) {
  ::unlink(tmp.c_str());  // a leftover of a crash; O_EXCL below refuses any other file
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("cannot create", tmp);
  auto fail = [&](const char* what) {
    Error e = IoError(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  // open's mode passes through the umask; the file must be exactly 0600.
  if (::fchmod(fd, 0600) != 0) return fail("cannot chmod");
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    Error e = IoError("cannot close", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = IoError("cannot rename to", path);
    ::unlink(tmp.c_str());
    return e;
  }
  return SyncDir(dir);
}

}  // namespace

Result<void> ValidateSecretName(std::string_view name) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (name.empty() || name.size() > kMaxSecretNameBytes || !ok_chars || name.front() == '.') {
    return MakeError(ErrorCode::kBadRequest,
                     "a secret name is 1-64 characters of A-Z a-z 0-9 . _ - and does not start "
                     "with '.'");
  }
  return {};
}

Result<std::unique_ptr<SecretStore>> SecretStore::Open(std::string dir, const Clock& clock) {
  if (auto r = MakeDirs(dir, 0700); !r) return r.error();
  // A directory made by an older version or by hand is tightened too.
  if (::chmod(dir.c_str(), 0700) != 0) return IoError("cannot chmod", dir);
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (std::string_view(e->d_name).starts_with(kTempPrefix)) {
        ::unlinkat(::dirfd(d), e->d_name, 0);
      }
    }
    ::closedir(d);
  } else {
    return IoError("cannot list", dir);
  }
  return std::unique_ptr<SecretStore>(new SecretStore(std::move(dir), clock));
}

std::string SecretStore::PathOf(std::string_view name) const {
  return dir_ + "/" + std::string(name);
}

Result<SecretPut> SecretStore::Put(std::string_view name, std::string_view value) {
  if (auto r = ValidateSecretName(name); !r) return r.error();
  if (value.size() > kMaxSecretBytes) {
    return MakeError(ErrorCode::kTooLarge, "a secret's value is at most " +
                                               std::to_string(kMaxSecretBytes) + " bytes, not " +
                                               std::to_string(value.size()));
  }
  const int64_t now = clock_.NowMs();
  int64_t created = now;
  auto old = ReadPrivate(PathOf(name));
  const bool is_new = !old && old.error().code == ErrorCode::kNotFound;
  if (old) {
    if (auto f = ParseSecretFile(*old)) created = f->created_at_ms;
  } else if (!is_new && old.error().code != ErrorCode::kCorrupt) {
    return old.error();  // a file that is not a secret (a symlink, say) is replaced whole
  }
  std::string content = Header(created, now);
  content.append(value);
  const std::string tmp = dir_ + "/" + std::string(kTempPrefix) + std::string(name);
  if (auto r = WriteWhole(dir_, tmp, PathOf(name), content); !r) return r.error();
  return SecretPut{{std::string(name), value.size(), created, now}, is_new};
}

Result<std::string> SecretStore::Get(std::string_view name) const {
  if (auto r = ValidateSecretName(name); !r) return r.error();
  auto content = ReadPrivate(PathOf(name));
  if (!content) {
    if (content.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, "no secret " + std::string(name));
    }
    return content.error();
  }
  auto f = ParseSecretFile(*content);
  if (!f) return MakeError(ErrorCode::kCorrupt, PathOf(name) + " is not a secret's file");
  return std::move(f->value);
}

Result<std::vector<SecretInfo>> SecretStore::List() const {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return IoError("cannot list", dir_);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (ValidateSecretName(e->d_name)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<SecretInfo> out;
  for (std::string& name : names) {
    auto content = ReadPrivate(PathOf(name));
    if (!content) {
      if (content.error().code == ErrorCode::kNotFound) continue;  // deleted meanwhile
      if (content.error().code == ErrorCode::kCorrupt) continue;
      return content.error();
    }
    auto f = ParseSecretFile(*content);
    if (!f) continue;
    out.push_back({std::move(name), f->value.size(), f->created_at_ms, f->updated_at_ms});
  }
  return out;
}

Result<void> SecretStore::Delete(std::string_view name) {
  if (auto r = ValidateSecretName(name); !r) return r.error();
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no secret " + std::string(name));
    return IoError("cannot remove", path);
  }
  return SyncDir(dir_);
}

}  // namespace autovibe
