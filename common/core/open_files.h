// The process's limit on open files (RLIMIT_NOFILE).
#pragma once

#include <cstdint>

namespace autovibe {

// Raises the soft limit on open files to the hard limit (a daemon serving many connections
// needs more than the usual 1024) and returns the limit now in force.
uint64_t RaiseOpenFileLimit();

}  // namespace autovibe
