// `autovibe task diff | fetch | approve | reject`: a repository task's change, and its review
// gate (GET /v1/tasks/{id}/diff and /bundle, POST /v1/tasks/{id}/approve and /reject).
#pragma once

#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the verbs to the `task` noun; parsing one of them fills `inv`.
void AddChangeCommands(CLI::App& task, Invocation& inv);

// Prints the task's diff as the controller holds it, byte for byte (for `git apply`); with
// `stat`, per-file figures and git's summary line, or the summary alone while the controller
// does not hold the diff yet (with --json, the change object of the API).
CliStatus ShowTaskDiff(CommandContext& ctx, const std::string& id, bool stat);

// Approves (publishes) or rejects (discards) a task awaiting review; prints "ID STATE", and
// after an approval what is published. `reason` is sent when not empty.
CliStatus ReviewTask(CommandContext& ctx, const std::string& id, bool approve,
                     const std::string& reason);

}  // namespace autovibe::cli
