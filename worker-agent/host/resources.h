// Raw readings of this host's resources: CPUs, memory, load and disk.
//
// This layer only reads numbers from the kernel; turning them into bus messages is the heartbeat
// builder's job, so nothing here knows about protobuf. Every function is thread-safe and never
// throws: malformed or unreadable input comes back as an Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/resources.h"
#include "common/core/result.h"

namespace autovibe::host {

struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};

struct DiskInfo {
  uint64_t total_bytes = 0;
  // Space an unprivileged process may still use (excludes the root reserve).
  uint64_t free_bytes = 0;
};

// Parses text in the /proc/meminfo format, using the MemTotal and MemAvailable lines (in kB).
// Fails with code "bad_data" when either is missing, malformed or overflows 64 bits as bytes.
Result<MemInfo> ParseMeminfo(std::string_view text);

// Parses text in the /proc/loadavg format and returns its first field, the 1-minute load.
// Fails with code "bad_data" unless that field is a finite, non-negative number.
Result<double> ParseLoadavg(std::string_view text);

// The number of CPUs this process may run on (its affinity mask), which is what a container or
// a taskset-restricted agent can really use; at least 1.
uint32_t CpuCores();

// Reads and parses a meminfo file. Fails with code "io" when it cannot be read.
Result<MemInfo> ReadMeminfo(const std::string& path = "/proc/meminfo");

// Reads and parses a loadavg file. Fails with code "io" when it cannot be read.
Result<double> ReadLoad1(const std::string& path = "/proc/loadavg");

// Size and free space of the file system holding `dir`. Fails with code "io" when it cannot
// be queried.
Result<DiskInfo> ReadDisk(const std::string& dir);

// Samples everything at once; the disk figures are those of the file system holding
// `data_dir`. Fails with the first reading that fails.
Result<Resources> SampleResources(const std::string& data_dir);

}  // namespace autovibe::host
