// The `autovibe` command line: the command tree, parsing, and running the chosen command.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/command.h"

namespace autovibe::cli {

// Builds the whole command tree. Parsing fills `inv`, which must outlive the app. Global
// options (--controller, --token, --json) are accepted before or after the command words.
std::unique_ptr<CLI::App> BuildApp(Invocation& inv);

// Parses argv (argv[0] is the program name). Returns the exit code to end with when parsing
// ends the program: 0 after --help or --version, kExitUsage after a usage error (CLI11's
// message goes to `err`). Returns nullopt when a command is ready to run.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv,
                                    std::ostream& out, std::ostream& err);
// The same for the words after the program name: {"machines", "list", "--json"}.
std::optional<int> ParseCommandLine(CLI::App& app, std::vector<std::string> args, std::ostream& out,
                                    std::ostream& err);

// Runs the parsed command with `client`; an error is printed to `err` as one line
// "autovibe: ..." and its exit code returned.
int RunCommand(const Invocation& inv, const Client& client, int64_t now_ms, std::ostream& out,
               std::ostream& err);

// RunCommand against the controller named by the options and the process environment.
int Run(const Invocation& inv, std::ostream& out, std::ostream& err);

}  // namespace autovibe::cli
