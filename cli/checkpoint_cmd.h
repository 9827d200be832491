// `autovibe checkpoint ...`: workspace checkpoints (DESIGN.md, "Workspace checkpoints"):
// listing and taking them, restoring one into a task's workspace, branching one onto another
// machine, comparing two, deleting one.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <ostream>
#include <string>

#include "cli/command.h"
#include "cli/table.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `checkpoint` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddCheckpointCommands(CLI::App& app, Invocation& inv);

// The verbs, runnable on any context. Empty filters and fields are not sent.
CliStatus ListCheckpoints(CommandContext& ctx, const std::string& machine, const std::string& task);
// Takes checkpoints on `machine` now (of `task`, else of every task it runs); prints their ids.
CliStatus CreateCheckpoints(CommandContext& ctx, const std::string& machine,
                            const std::string& task, const std::string& label,
                            bool whole_machine = false);
CliStatus ShowCheckpoint(CommandContext& ctx, const std::string& id);
// Restores checkpoint `id` into the workspace of `task` (empty: the checkpoint's own task).
CliStatus RestoreCheckpoint(CommandContext& ctx, const std::string& id, const std::string& task);
// Copies checkpoint `id` onto `machine` (empty: the controller picks one that lacks it),
// sending only the objects it lacks.
CliStatus BranchCheckpoint(CommandContext& ctx, const std::string& id, const std::string& machine);
CliStatus DiffCheckpoints(CommandContext& ctx, const std::string& from, const std::string& to);
CliStatus DeleteCheckpoint(CommandContext& ctx, const std::string& id);
// Has a machine holding checkpoint `id` re-read and re-hash all of it.
CliStatus VerifyCheckpoint(CommandContext& ctx, const std::string& id);

// Human output for checkpoint objects of the API (missing fields print as "-").
void PrintCheckpointTable(std::ostream& out, const boost::json::array& checkpoints);
KeyValues CheckpointDetails(const boost::json::object& checkpoint, int64_t now_ms);

// What a restore or branch did, from its answer; `id` (and `machine`) as asked stand in for
// fields the answer lacks. A restore is one line, or two when it kept the workspace as it was:
// "restored cp-2 into the workspace of task t-1 on machine m-1\nthe workspace as it was is
// checkpoint cp-3". A branch: "checkpoint cp-2 is on machine m-2 (sent 3 of 10 objects, 1.5K)".
std::string RestoreSummary(const boost::json::object& answer, const std::string& id);
std::string BranchSummary(const boost::json::object& answer, const std::string& id,
                          const std::string& machine);

// The changes of a diff, one a line like `git diff --name-status`: "A path", "D path",
// "M path" ("?" for a kind this CLI does not know).
void PrintChanges(std::ostream& out, const boost::json::array& changes);

}  // namespace autovibe::cli
