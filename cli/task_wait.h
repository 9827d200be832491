// `autovibe task submit --wait`: follow a task to its end with one live progress line, then
// end with the task's exit code.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/command.h"
#include "cli/task_follow.h"

namespace autovibe::cli {

// Follows `submitted` (the task as POST /v1/tasks returned it) until it ends, showing progress
// on term.err: one line redrawn in place when it is a terminal, else a line per change of
// state. Then prints the outcome (on term.err, or the final task's JSON on ctx.out with
// --json) and returns an error carrying TaskExitCode and no message when that is not 0.
// A pause prints its reason at once; unless `through_pauses`, the wait ends there with
// kExitPaused (with --json, the paused state and the task's id on ctx.out).
CliStatus WaitForTask(CommandContext& ctx, const boost::json::object& submitted,
                      const Terminal& term, bool through_pauses = false);

// The exit code `--wait` ends with: 0 for a succeeded task; N for one that failed with exit
// code N (1..255); 1 for any other end (failed without an exit code, cancelled, ...).
int TaskExitCode(const boost::json::object& task);

// What the progress line shows.
struct Progress {
  std::string id;
  std::string state;
  std::string machine;  // its name, else its id; empty before assignment
  int64_t attempts = 0;
  int64_t elapsed_ms = 0;
  std::string last_log;  // one line, already cleaned (see LastLogLine)
};

// "t-1 running on agent-1 (attempt 2), 1m12s: compiling foo.c", at most `width` columns.
std::string FormatProgress(const Progress& progress, size_t width);

// The last non-blank line of `output` (lines end in LF or CR), without terminal escapes or
// other control characters, so it prints on one line.
std::string LastLogLine(std::string_view output);

// "t-1 paused after 12s on agent-1: <reason>", then how it goes on (two or three lines).
std::string FormatPause(const Progress& progress, const std::string& reason, int64_t elapsed_ms,
                        bool waiting_on);

// "t-1 succeeded in 1m12s on agent-1", "t-1 failed with exit code 3 after 12s on agent-1:
// reason", "t-1 cancelled after 3s: cancelled by user".
std::string FormatOutcome(const boost::json::object& task, int64_t elapsed_ms);

}  // namespace autovibe::cli
