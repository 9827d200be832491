// Running a helper program to its end (qemu-img, genisoimage): the VM backends' disks and
// cloud-init seeds are made by the tools made for them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

struct ProgramRun {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::chrono::milliseconds timeout{120'000};
};

// Runs the program with stdin from /dev/null and returns what it printed (stdout and stderr,
// the last 64 KiB). Errors: not_found (no such program), failed (it exited non-zero or was
// killed; the message ends with its last output line), timed_out (killed at the timeout),
// unavailable (pipe or spawn failed), bad_request (empty argv).
Result<std::string> RunProgram(const ProgramRun& run);

}  // namespace autovibe
