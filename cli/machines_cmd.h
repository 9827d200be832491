// `autovibe machines ...`: the machines of the fleet.
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

// Adds the `machines` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddMachineCommands(CLI::App& app, Invocation& inv);

struct SpawnOptions {
  std::string pool;
  std::string from_checkpoint;
  bool wait = false;
  std::string timeout = "5m";
};

// The verbs, runnable on any context.
// Terminated machines only with `all`.
CliStatus ListMachines(CommandContext& ctx, bool all = false);
CliStatus ShowMachine(CommandContext& ctx, const std::string& id);
CliStatus SpawnMachine(CommandContext& ctx, const SpawnOptions& options);
CliStatus DrainMachine(CommandContext& ctx, const std::string& id);
CliStatus TerminateMachine(CommandContext& ctx, const std::string& id);
CliStatus ListPools(CommandContext& ctx);

// Human output for machine objects of the API (missing fields print as "-").
void PrintMachineTable(std::ostream& out, const boost::json::array& machines, int64_t now_ms);
KeyValues MachineDetails(const boost::json::object& machine, int64_t now_ms);

}  // namespace autovibe::cli
