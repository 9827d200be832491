#include "worker-agent/host/resources.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

namespace autovibe::host {
namespace {

constexpr std::string_view kWhitespace = " \t";

// /proc/meminfo is about 1.5 kB; a bound keeps a wrong path from ballooning the agent's memory.
constexpr size_t kMaxProcFileBytes = size_t{64} * 1024;

Error IoError(const std::string& what, const std::string& path) {
  return MakeError(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

// /proc files report a size of 0, so read until end of file rather than trusting stat.
Result<std::string> ReadProcFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path);
  std::string text;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = IoError("cannot read", path);
      close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxProcFileBytes) {
      close(fd);
      return MakeError(ErrorCode::kBadData,
                       path + " is larger than " + std::to_string(kMaxProcFileBytes) + " bytes");
    }
  }
  close(fd);
  // Error is constructible from a string too, so name the value alternative explicitly.
  // NOLINTNEXTLINE(modernize-return-braced-init-list): braces would be ambiguous.
  return Result<std::string>(boost::system::in_place_value, std::move(text));
}

std::string_view TrimLeft(std::string_view s) {
  const size_t start = s.find_first_not_of(kWhitespace);
  return start == std::string_view::npos ? std::string_view() : s.substr(start);
}

std::string_view TrimRight(std::string_view s) {
  const size_t end = s.find_last_not_of(kWhitespace);
  return end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
}

// The value of the first line that reads "<key>: <value>", or nothing.
std::optional<std::string_view> FindMeminfoValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      return TrimRight(TrimLeft(line.substr(key.size() + 1)));
    }
  }
  return std::nullopt;
}

// Parses "<digits> kB" into bytes.
Result<uint64_t> ParseKilobytes(std::string_view key, std::string_view value) {
  const auto bad = [&](const char* why) {
    return MakeError(ErrorCode::kBadData, "meminfo " + std::string(key) + " " + why + ": '" +
                                              std::string(value.substr(0, 64)) + "'");
  };
  uint64_t kb = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, kb);
  if (ec == std::errc::result_out_of_range) return bad("is too large");
  if (ec != std::errc() || ptr == value.data()) return bad("is not a number");
  if (TrimLeft(std::string_view(ptr, end - ptr)) != "kB") return bad("is not in kB");
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(kb, uint64_t{1024}, &bytes)) return bad("is too large");
  return bytes;
}

Result<uint64_t> MeminfoBytes(std::string_view text, std::string_view key) {
  const std::optional<std::string_view> value = FindMeminfoValue(text, key);
  if (!value) return MakeError(ErrorCode::kBadData, "meminfo has no " + std::string(key) + " line");
  return ParseKilobytes(key, *value);
}

Result<uint64_t> CheckedProduct(uint64_t a, uint64_t b, const std::string& dir) {
  uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    return MakeError(ErrorCode::kBadData, "file system size of " + dir + " overflows 64 bits");
  }
  return product;
}

// Affinity masks on hosts with more CPUs than a static cpu_set_t holds need a bigger buffer;
// the kernel says so with EINVAL.
std::optional<uint32_t> AffinityCount() {
  for (int cpus = CPU_SETSIZE; cpus <= (1 << 20); cpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (set == nullptr) return std::nullopt;
    const size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    const int rc = sched_getaffinity(0, size, set);
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    const int err = errno;
    CPU_FREE(set);
    if (rc == 0) return count > 0 ? std::optional<uint32_t>(count) : std::nullopt;
    if (err != EINVAL) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Result<MemInfo> ParseMeminfo(std::string_view text) {
  Result<uint64_t> total = MeminfoBytes(text, "MemTotal");
  if (!total) return total.error();
  Result<uint64_t> available = MeminfoBytes(text, "MemAvailable");
  if (!available) return available.error();
  return MemInfo{*total, *available};
}

Result<double> ParseLoadavg(std::string_view text) {
  text = TrimLeft(text);
  const std::string_view field = text.substr(0, text.find_first_of(" \t\n"));
  double load = 0;
  const char* end = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(field.data(), end, load);
  if (field.empty() || ec != std::errc() || ptr != end || !std::isfinite(load) || load < 0) {
    return MakeError(ErrorCode::kBadData, "loadavg does not start with a load: '" +
                                              std::string(field.substr(0, 64)) + "'");
  }
  return load;
}

uint32_t CpuCores() {
  if (const std::optional<uint32_t> count = AffinityCount()) return *count;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<uint32_t>(online) : 1;
}

Result<MemInfo> ReadMeminfo(const std::string& path) {
  Result<std::string> text = ReadProcFile(path);
  if (!text) return text.error();
  return ParseMeminfo(*text);
}

Result<double> ReadLoad1(const std::string& path) {
  Result<std::string> text = ReadProcFile(path);
  if (!text) return text.error();
  return ParseLoadavg(*text);
}

Result<DiskInfo> ReadDisk(const std::string& dir) {
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) return IoError("cannot statvfs", dir);
  Result<uint64_t> total = CheckedProduct(fs.f_blocks, fs.f_frsize, dir);
  if (!total) return total.error();
  Result<uint64_t> free = CheckedProduct(fs.f_bavail, fs.f_frsize, dir);
  if (!free) return free.error();
  return DiskInfo{*total, *free};
}

Result<Resources> SampleResources(const std::string& data_dir) {
  Result<MemInfo> mem = ReadMeminfo();
  if (!mem) return mem.error();
  Result<double> load1 = ReadLoad1();
  if (!load1) return load1.error();
  Result<DiskInfo> disk = ReadDisk(data_dir);
  if (!disk) return disk.error();
  Resources sample;
  sample.cpu_cores = CpuCores();
  sample.mem_total_bytes = mem->total_bytes;
  // MemAvailable is the kernel's estimate; never let an odd reading wrap around.
  sample.mem_used_bytes =
      mem->total_bytes > mem->available_bytes ? mem->total_bytes - mem->available_bytes : 0;
  sample.disk_total_bytes = disk->total_bytes;
  sample.disk_free_bytes = disk->free_bytes;
  sample.load1 = *load1;
  return sample;
}

}  // namespace autovibe::host
