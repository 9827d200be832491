// `autovibe task submit`: the flags, the request they make, and sending it.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/task_follow.h"
#include "cli/task_repo_flags.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// The flags of `task submit`, as typed.
struct SubmitFlags {
  std::string project;
  std::string tool;
  std::string prompt;
  std::vector<std::string> command;  // the words after `--`
  std::optional<int64_t> priority;
  std::vector<std::string> after;   // task ids this one depends on
  std::vector<std::string> labels;  // "k=v"
  std::vector<std::string> env;     // "K=V"
  std::string model;
  std::optional<int64_t> max_turns;
  std::optional<int64_t> max_attempts;
  std::string timeout;  // "30m"
  std::string max_usd;  // "0.50": the task's own spending cap
  std::string from_checkpoint;
  std::string title;  // a short name; the commit message of a repository task's change
  RepoFlags repo;
  bool wait = false;
  bool wait_through_pauses = false;
};

// How `task submit` waits for its task.
enum class WaitMode {
  kNone,           // prints the id and returns
  kToEndOrPause,   // --wait: to its end, or its first pause (exit code kExitPaused)
  kThroughPauses,  // --wait-through-pauses: to its end, telling each pause and resumption
};

// Adds `submit` to the `task` noun. Flags that make no valid request are usage errors (exit 2).
void AddSubmitCommand(CLI::App& task, Invocation& inv);

// The POST /v1/tasks body the flags ask for; a usage error (exit 2) says what is wrong.
CliResult<boost::json::object> SubmitRequest(const SubmitFlags& flags);

// Submits `request`, prints the new task's id (its JSON with --json), and unless `wait` is
// kNone follows it (see WaitForTask; with --json only the final task is printed).
CliStatus SubmitTask(CommandContext& ctx, const boost::json::object& request, WaitMode wait,
                     const Terminal& term);

}  // namespace autovibe::cli
