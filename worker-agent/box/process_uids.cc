#include "worker-agent/box/process_uids.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

namespace autovibe::box {
namespace {

// The four uids of a "Uid:\t<real>\t<effective>\t<saved>\t<fs>" line of `status`.
std::vector<uid_t> StatusUids(std::string_view status) {
  std::vector<uid_t> uids;
  const size_t at = status.find("\nUid:");
  if (at == std::string_view::npos) return uids;
  std::string_view line = status.substr(at + 5);
  line = line.substr(0, line.find('\n'));
  while (!line.empty()) {
    const size_t digit = line.find_first_of("0123456789");
    if (digit == std::string_view::npos) break;
    line.remove_prefix(digit);
    uid_t uid = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), uid);
    if (ec != std::errc()) break;
    uids.push_back(uid);
    line.remove_prefix(static_cast<size_t>(end - line.data()));
  }
  return uids;
}

// /proc/<pid>/status; empty when the process is gone.
std::string_view ReadStatus(const std::string& path, char* buf, size_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t n;
  while ((n = read(fd, buf, size)) < 0 && errno == EINTR) {
  }
  close(fd);
  return n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : std::string_view();
}

}  // namespace

std::vector<uid_t> UidsWithProcesses(uid_t first, size_t count, const std::string& proc) {
  std::vector<uid_t> found;
  DIR* dir = opendir(proc.c_str());
  if (dir == nullptr) return found;
  // The Uid line sits in the first few hundred bytes of a status file.
  char buf[1024];
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;  // pids only
    const std::string_view status = ReadStatus(proc + "/" + e->d_name + "/status", buf, sizeof buf);
    for (uid_t uid : StatusUids(status)) {
      if (uid >= first && uid - first < count) found.push_back(uid);
    }
  }
  closedir(dir);
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

}  // namespace autovibe::box
