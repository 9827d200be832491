#include <sched.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tests/support/process.h"
#include "worker-agent/host/resources.h"

namespace autovibe::host {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  fs::path path() const { return dir_.path(); }

  std::string Write(const std::string& name, const std::string& content) const {
    const fs::path file = path() / name;
    std::ofstream(file) << content;
    return file.string();
  }

 private:
  testing::TempDir dir_{"av-host-resources"};
};

constexpr const char* kRealLookingMeminfo =
    "MemTotal:       16314452 kB\n"
    "MemFree:         1034832 kB\n"
    "MemAvailable:    9876544 kB\n"
    "Buffers:          412336 kB\n"
    "Cached:          8123456 kB\n"
    "SwapCached:            0 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

TEST_CASE("ParseMeminfo reads MemTotal and MemAvailable in bytes", "[host]") {
  Result<MemInfo> mem = ParseMeminfo(kRealLookingMeminfo);
  REQUIRE(mem.has_value());
  CHECK(mem->total_bytes == 16314452ull * 1024);
  CHECK(mem->available_bytes == 9876544ull * 1024);
}

TEST_CASE("ParseMeminfo accepts any line order and no final newline", "[host]") {
  Result<MemInfo> mem = ParseMeminfo("MemAvailable: 10 kB\nMemFree: 3 kB\nMemTotal:\t20 kB");
  REQUIRE(mem.has_value());
  CHECK(mem->total_bytes == 20 * 1024);
  CHECK(mem->available_bytes == 10 * 1024);
}

TEST_CASE("ParseMeminfo does not take a longer key for the one asked", "[host]") {
  Result<MemInfo> mem = ParseMeminfo("MemTotalX: 5 kB\nMemAvailable: 1 kB\nMemTotal: 7 kB\n");
  REQUIRE(mem.has_value());
  CHECK(mem->total_bytes == 7 * 1024);
}

TEST_CASE("ParseMeminfo fails when a field is missing", "[host]") {
  Result<MemInfo> no_available = ParseMeminfo("MemTotal: 100 kB\nMemFree: 50 kB\n");
  REQUIRE_FALSE(no_available.has_value());
  CHECK(no_available.error().code == ErrorCode::kBadData);
  CHECK_THAT(no_available.error().message, Catch::Contains("MemAvailable"));

  Result<MemInfo> no_total = ParseMeminfo("MemFree: 50 kB\nMemAvailable: 50 kB\n");
  REQUIRE_FALSE(no_total.has_value());
  CHECK_THAT(no_total.error().message, Catch::Contains("MemTotal"));

  CHECK_FALSE(ParseMeminfo("").has_value());
}

TEST_CASE("ParseMeminfo rejects malformed values", "[host]") {
  const char* bad[] = {
      "MemTotal: abc kB\nMemAvailable: 1 kB\n",      "MemTotal: -5 kB\nMemAvailable: 1 kB\n",
      "MemTotal: kB\nMemAvailable: 1 kB\n",          "MemTotal:\nMemAvailable: 1 kB\n",
      "MemTotal: 12\nMemAvailable: 1 kB\n",          "MemTotal: 12 MB\nMemAvailable: 1 kB\n",
      "MemTotal: 12 kB extra\nMemAvailable: 1 kB\n", "MemTotal 12 kB\nMemAvailable: 1 kB\n",
      "MemTotal: 1.5 kB\nMemAvailable: 1 kB\n",      "MemTotal: 12 kB\nMemAvailable: 0x10 kB\n",
  };
  for (const char* text : bad) {
    INFO(text);
    Result<MemInfo> mem = ParseMeminfo(text);
    REQUIRE_FALSE(mem.has_value());
    CHECK(mem.error().code == ErrorCode::kBadData);
  }
}

TEST_CASE("ParseMeminfo handles huge numbers without wrapping", "[host]") {
  // The largest kB count whose byte count still fits in 64 bits.
  const uint64_t max_kb = UINT64_MAX / 1024;
  Result<MemInfo> largest =
      ParseMeminfo("MemTotal: " + std::to_string(max_kb) + " kB\nMemAvailable: 4294967296 kB\n");
  REQUIRE(largest.has_value());
  CHECK(largest->total_bytes == max_kb * 1024);
  CHECK(largest->available_bytes == 4294967296ull * 1024);

  CHECK_FALSE(ParseMeminfo("MemTotal: " + std::to_string(max_kb + 1) + " kB\nMemAvailable: 1 kB\n")
                  .has_value());
  CHECK_FALSE(ParseMeminfo("MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n").has_value());
  CHECK_FALSE(
      ParseMeminfo("MemTotal: 99999999999999999999999999 kB\nMemAvailable: 1 kB\n").has_value());
}

TEST_CASE("Parsers survive random bytes", "[host]") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string text = round % 2 == 0 ? "MemTotal: " : "";
    const int length = round % 97;
    for (int i = 0; i < length; ++i) text.push_back(static_cast<char>(byte(rng)));
    CHECK_NOTHROW(ParseMeminfo(text));
    CHECK_NOTHROW(ParseLoadavg(text));
  }
}

TEST_CASE("ParseLoadavg returns the first field", "[host]") {
  Result<double> load = ParseLoadavg("0.07 0.10 0.04 2/84 3323\n");
  REQUIRE(load.has_value());
  CHECK(*load == Approx(0.07));

  Result<double> busy = ParseLoadavg("123.45 99.00 80.00 40/900 1\n");
  REQUIRE(busy.has_value());
  CHECK(*busy == Approx(123.45));

  Result<double> zero = ParseLoadavg("0.00");
  REQUIRE(zero.has_value());
  CHECK(*zero == 0.0);
}

TEST_CASE("ParseLoadavg rejects garbage", "[host]") {
  const char* bad[] = {"",        "   \n",       "abc 0.1 0.2", "-1.00 0.1 0.2", "nan 0.1",
                       "inf 0.1", "0.07abc 0.1", "1e999 0.1",   "\xff\xfe"};
  for (const char* text : bad) {
    INFO(text);
    Result<double> load = ParseLoadavg(text);
    REQUIRE_FALSE(load.has_value());
    CHECK(load.error().code == ErrorCode::kBadData);
  }
}

TEST_CASE("ReadMeminfo on this host agrees with sysconf", "[host]") {
  Result<MemInfo> mem = ReadMeminfo();
  REQUIRE(mem.has_value());
  CHECK(mem->available_bytes > 0);
  CHECK(mem->total_bytes > mem->available_bytes);
  const double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  CHECK(std::abs(static_cast<double>(mem->total_bytes) - physical) <= physical * 0.01);
}

TEST_CASE("ReadMeminfo and ReadLoad1 read the given file", "[host]") {
  ScratchDir dir;
  Result<MemInfo> mem = ReadMeminfo(dir.Write("meminfo", kRealLookingMeminfo));
  REQUIRE(mem.has_value());
  CHECK(mem->total_bytes == 16314452ull * 1024);

  Result<double> load = ReadLoad1(dir.Write("loadavg", "3.25 1.00 0.50 1/2 3\n"));
  REQUIRE(load.has_value());
  CHECK(*load == Approx(3.25));

  CHECK_FALSE(ReadLoad1(dir.Write("bad_loadavg", "garbage\n")).has_value());
}

TEST_CASE("Reading a directory or an oversized file fails cleanly", "[host]") {
  ScratchDir dir;
  Result<MemInfo> from_dir = ReadMeminfo(dir.path().string());
  REQUIRE_FALSE(from_dir.has_value());
  CHECK(from_dir.error().code == ErrorCode::kIo);

  // A valid first line followed by megabytes of padding: a bounded reader refuses it.
  const std::string huge = "1.00 0.50 0.25 1/2 3\n" + std::string(4 << 20, 'x');
  Result<double> load = ReadLoad1(dir.Write("huge", huge));
  REQUIRE_FALSE(load.has_value());
  CHECK(load.error().code == ErrorCode::kBadData);
}

TEST_CASE("Reading a missing file is an io error", "[host]") {
  ScratchDir dir;
  Result<MemInfo> mem = ReadMeminfo((dir.path() / "absent").string());
  REQUIRE_FALSE(mem.has_value());
  CHECK(mem.error().code == ErrorCode::kIo);
  Result<double> load = ReadLoad1((dir.path() / "absent").string());
  REQUIRE_FALSE(load.has_value());
  CHECK(load.error().code == ErrorCode::kIo);
}

TEST_CASE("ReadLoad1 on this host is a sane load", "[host]") {
  Result<double> load = ReadLoad1();
  REQUIRE(load.has_value());
  CHECK(*load >= 0);
  CHECK(*load < 10000);
}

TEST_CASE("ReadDisk agrees with statvfs on a temp dir", "[host]") {
  ScratchDir dir;
  Result<DiskInfo> disk = ReadDisk(dir.path().string());
  REQUIRE(disk.has_value());
  CHECK(disk->free_bytes > 0);
  CHECK(disk->total_bytes >= disk->free_bytes);

  struct statvfs vfs {};
  REQUIRE(statvfs(dir.path().c_str(), &vfs) == 0);
  const uint64_t total = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  const uint64_t free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  CHECK(disk->total_bytes == total);
  // Other processes write to the same file system meanwhile.
  CHECK(std::abs(static_cast<double>(disk->free_bytes) - static_cast<double>(free)) <=
        static_cast<double>(total) * 0.01);
}

TEST_CASE("ReadDisk on a missing dir is an io error", "[host]") {
  ScratchDir dir;
  Result<DiskInfo> disk = ReadDisk((dir.path() / "absent").string());
  REQUIRE_FALSE(disk.has_value());
  CHECK(disk.error().code == ErrorCode::kIo);
  CHECK_THAT(disk.error().message, Catch::Contains("absent"));
}

TEST_CASE("CpuCores counts the CPUs this process may use", "[host]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  CHECK(CpuCores() >= 1);
  CHECK(CpuCores() == static_cast<uint32_t>(CPU_COUNT(&set)));
}

TEST_CASE("CpuCores follows a narrowed affinity mask", "[host]") {
  cpu_set_t original;
  CPU_ZERO(&original);
  REQUIRE(sched_getaffinity(0, sizeof(original), &original) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  const uint32_t cores = CpuCores();
  REQUIRE(sched_setaffinity(0, sizeof(original), &original) == 0);
  CHECK(cores == 1);
}

TEST_CASE("SampleResources fills every field consistently", "[host]") {
  ScratchDir dir;
  Result<Resources> sample = SampleResources(dir.path().string());
  REQUIRE(sample.has_value());
  CHECK(sample->cpu_cores == CpuCores());

  Result<MemInfo> mem = ReadMeminfo();
  REQUIRE(mem.has_value());
  CHECK(sample->mem_total_bytes == mem->total_bytes);
  CHECK(sample->mem_used_bytes > 0);
  CHECK(sample->mem_used_bytes < sample->mem_total_bytes);
  const double used_now = static_cast<double>(mem->total_bytes - mem->available_bytes);
  CHECK(std::abs(static_cast<double>(sample->mem_used_bytes) - used_now) <=
        static_cast<double>(mem->total_bytes) * 0.05);

  Result<DiskInfo> disk = ReadDisk(dir.path().string());
  REQUIRE(disk.has_value());
  CHECK(sample->disk_total_bytes == disk->total_bytes);
  CHECK(sample->disk_free_bytes > 0);
  CHECK(sample->disk_free_bytes <= sample->disk_total_bytes);
  CHECK(sample->load1 >= 0);
}

TEST_CASE("SampleResources fails when the data dir is missing", "[host]") {
  ScratchDir dir;
  Result<Resources> sample = SampleResources((dir.path() / "absent").string());
  REQUIRE_FALSE(sample.has_value());
  CHECK(sample.error().code == ErrorCode::kIo);
}

}  // namespace
}  // namespace autovibe::host
