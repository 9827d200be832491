// `autovibe task ...`: submitting, listing, inspecting and cancelling coding tasks. `submit`
// lives in task_submit.h, `logs` in task_logs.h.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/table.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `task` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddTaskCommands(CLI::App& app, Invocation& inv);

// The verbs, runnable on any context. Empty filters are not sent.
CliStatus ListTasks(CommandContext& ctx, const std::string& project, const std::string& state);
CliStatus ShowTask(CommandContext& ctx, const std::string& id);
CliStatus CancelTask(CommandContext& ctx, const std::string& id);
// Queues a paused task again; prints "ID STATE".
CliStatus ResumeTask(CommandContext& ctx, const std::string& id);

// Human output for task objects of the API (missing fields print as "-").
void PrintTaskTable(std::ostream& out, const boost::json::array& tasks, int64_t now_ms);
KeyValues TaskDetails(const boost::json::object& task, int64_t now_ms);

// What a task does, on one line: its prompt, or its command as a shell would read it
// (sh -c 'echo hi'). Runs of whitespace become one space.
std::string TaskWhat(const boost::json::object& task);

// A word as a POSIX shell reads it back: as is when safe, else in single quotes.
std::string ShellQuote(const std::string& word);

}  // namespace autovibe::cli
