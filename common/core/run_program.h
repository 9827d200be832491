// Running a helper program to its end (qemu-img, genisoimage, git): the VM backends' disks and
// cloud-init seeds, and the agent's repository checkouts, are made by the tools made for them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

struct ProgramRun {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::chrono::milliseconds timeout{120'000};
  std::string cwd;  // empty: the caller's
  // The whole environment ("NAME=value"); unset: the caller's.
  std::optional<std::vector<std::string>> env;
  // Standard output apart from standard error: the answer is stdout alone (up to max_stdout;
  // more fails the run), and stderr only explains a failure.
  bool stdout_apart = false;
  size_t max_stdout = 16 << 20;
  // Standard output into this file (created 0600, replaced) instead of the answer.
  std::string stdout_path;
};

// Runs the program with stdin from /dev/null and returns what it printed (stdout and stderr,
// the last 64 KiB; see stdout_apart and stdout_path). Errors: not_found (no such program),
// failed (it exited non-zero or was killed; the message ends with its last output line),
// timed_out (killed at the timeout), unavailable (pipe or spawn failed), bad_request (empty
// argv), too_large (more stdout than max_stdout).
Result<std::string> RunProgram(const ProgramRun& run);

}  // namespace autovibe
