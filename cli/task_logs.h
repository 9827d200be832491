// `autovibe task logs ID [-f]`: a task's output, printed once or followed until the task ends.
#pragma once

#include <boost/json/object.hpp>
#include <ostream>
#include <string>

#include "cli/command.h"
#include "cli/task_follow.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds `logs` to the `task` noun.
void AddLogsCommand(CLI::App& task, Invocation& inv);

// Prints the task's output so far; with `follow`, then follows it until the task ends (exit 0
// whatever the task's outcome). With --json: the API's answer, or with `follow` one compact
// JSON line per event ({"event":"log","data":{...}}, ..., {"event":"end","data":{task}}).
CliStatus ShowTaskLogs(CommandContext& ctx, const std::string& id, bool follow,
                       const Terminal& term);

// Writes chunks as a user reads them: the tool's output (stdout and stderr) as sent, and the
// agent's notes on lines of their own, each prefixed "[autovibe] ".
class LogPrinter {
 public:
  explicit LogPrinter(std::ostream& out) : out_(out) {}
  void Print(const boost::json::object& chunk);

 private:
  void Write(std::string_view text);

  std::ostream& out_;
  bool at_line_start_ = true;
};

}  // namespace autovibe::cli
