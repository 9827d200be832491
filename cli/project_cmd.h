// `autovibe project ...`: projects, which group tasks and carry budgets.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "cli/command.h"
#include "cli/table.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `project` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddProjectCommands(CLI::App& app, Invocation& inv);

// The verbs, runnable on any context.
CliStatus CreateProject(CommandContext& ctx, const std::string& name);
// POST /v1/projects, with the project's default repository when given.
CliStatus CreateProjectWith(CommandContext& ctx, const std::string& name,
                            const std::optional<boost::json::object>& repo);
// PATCH /v1/projects/{name}: its default repository (none: dropped).
CliStatus UpdateProjectRepo(CommandContext& ctx, const std::string& name,
                            const std::optional<boost::json::object>& repo);
// `project create NAME [--repo ...]` and `project update NAME (--repo ... | --no-repo)`.
void AddProjectRepoVerbs(CLI::App& project, Invocation& inv);
CliStatus ListProjects(CommandContext& ctx);
CliStatus ShowProject(CommandContext& ctx, const std::string& name);
// Emergency stop (running tasks paused, queued ones held) and its undoing.
CliStatus StopProject(CommandContext& ctx, const std::string& name);
CliStatus ResumeProject(CommandContext& ctx, const std::string& name);

// Human output for project objects of the API (missing fields print as "-").
void PrintProjectTable(std::ostream& out, const boost::json::array& projects, int64_t now_ms);
KeyValues ProjectDetails(const boost::json::object& project, int64_t now_ms);

// One line on what a stop or resume did, from the project it answers: "stopped project demo: 3
// running tasks paused, 5 queued tasks held"; counts the answer lacks are left out.
std::string StopSummary(const boost::json::object& project, const std::string& name);
std::string ResumeSummary(const boost::json::object& project, const std::string& name);

// "1 queued, 2 running, 5 succeeded" from a project's task counts; "none" when all are zero.
std::string FormatTaskCounts(const boost::json::object& counts);

}  // namespace autovibe::cli
