// `autovibe usage`: what has been spent (tokens, dollars, calls, time) from the controller's
// ledger, in total or grouped by model, machine, task or day.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <ostream>
#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// The flags of `usage`, as typed; empty ones are not sent.
struct UsageFlags {
  std::string project;
  std::string by;     // "model", "machine", "task" or "day"
  std::string since;  // RFC 3339, or a duration back from now ("24h")
};

// Adds the `usage` command to `app`; parsing it fills `inv`.
void AddUsageCommand(CLI::App& app, Invocation& inv);

// "/v1/usage?group_by=model&project=demo&since=2026-11-21T01:39:42.123Z", with --since as a
// time (a duration is counted back from `now_ms`). A usage error (exit 2) for a --since that
// is neither.
CliResult<std::string> UsagePath(const UsageFlags& flags, int64_t now_ms);

// Prints the usage table; with --project and no --by, the project's budgets after it.
CliStatus ShowUsage(CommandContext& ctx, const UsageFlags& flags);

// The rows of GET /v1/usage as a table, with a total row when there is more than one.
void PrintUsageTable(std::ostream& out, const boost::json::object& usage);

}  // namespace autovibe::cli
