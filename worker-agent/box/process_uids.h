// Which task users still own a process: read from /proc, for the uid pool (uid_pool.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace autovibe::box {

// The uids in [first, first + count) that own a process now: any of the real, effective, saved
// or file-system uid of some /proc/<pid>/status (`proc` is the /proc to read). Zombies count
// until they are reaped. Sorted, no repeats. Reads one small file per process on the host
// (about 5 µs each): cheap, but not for every call of a busy loop.
std::vector<uid_t> UidsWithProcesses(uid_t first, size_t count, const std::string& proc = "/proc");

}  // namespace autovibe::box
