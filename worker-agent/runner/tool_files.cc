#include "worker-agent/runner/tool_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "common/core/files.h"
#include "worker-agent/runner/tool_spawn.h"

namespace autovibe::runner {
namespace {

// The parts of a relative path, or nothing when it is not one a home may hold.
Result<std::vector<std::string>> Parts(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  const bool bad = path.empty() || path.front() == '/' || path.back() == '/' ||
                   std::any_of(parts.begin(), parts.end(), [](const std::string& p) {
                     return p.empty() || p == "." || p == "..";
                   });
  if (bad) {
    return MakeError(ErrorCode::kBadTask,
                     "\"" + path.substr(0, 200) + "\" is not a relative path inside a home");
  }
  return parts;
}

// The directory `name` in `dir`, made if missing; never through a symlink.
Result<UniqueFd> EnterDir(int dir, const std::string& name, const std::string& shown) {
  if (mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError("cannot make", shown);
  }
  UniqueFd fd(openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot open", shown);
  return fd;
}

// A new file `name` in `dir` with `content`: whatever was there (a symlink, a hard link to
// another file) is unlinked first, and the file created exclusively.
Result<void> WriteNew(int dir, const std::string& name, const std::string& content,
                      const std::string& shown) {
  if (unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT)
    return IoError("cannot replace", shown);
  UniqueFd fd(
      openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return IoError("cannot create", shown);
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("cannot write", shown);
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> PlaceFile(int home_fd, const std::string& home, const tools::ToolFile& file) {
  auto parts = Parts(file.path);
  if (!parts) return parts.error();
  const std::string shown = home + "/" + file.path;
  UniqueFd held;
  int dir = home_fd;
  for (size_t i = 0; i + 1 < parts->size(); ++i) {
    auto next = EnterDir(dir, (*parts)[i], shown);
    if (!next) return next.error();
    held = std::move(*next);
    dir = held.get();
  }
  return WriteNew(dir, parts->back(), file.content, shown);
}

}  // namespace

Result<void> PlaceToolFiles(const std::string& home, tools::ToolLaunch& launch) {
  if (launch.files.empty() && launch.home_dirs.empty()) return {};
  for (const auto& [name, path] : launch.home_dirs) {
    if (auto parts = Parts(path); !parts) return parts.error();
  }
  if (auto r = MakeDirs(home, 0700); !r) return r.error();
  UniqueFd home_fd(open(home.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (home_fd.get() < 0) return IoError("cannot open", home);
  for (const tools::ToolFile& file : launch.files) {
    if (auto r = PlaceFile(home_fd.get(), home, file); !r) return r.error();
  }
  for (const auto& [name, path] : launch.home_dirs) launch.env[name] = home + "/" + path;
  return {};
}

}  // namespace autovibe::runner
