// Registering verbs: the shapes `NOUN VERB` and `NOUN VERB ARG` that most commands share.
#pragma once

#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Runs a verb with its one argument.
using ArgumentAction = CliStatus (*)(CommandContext& ctx, const std::string& argument);

// Adds `noun VERB`, which runs `run`; parsing it fills `inv` ("project list").
CLI::App* AddVerb(CLI::App& noun, Invocation& inv, const std::string& verb, const std::string& help,
                  Action run);

// Adds `noun VERB ARG` with one required argument named `arg` ("ID"), described by `arg_help`.
CLI::App* AddVerbWithArgument(CLI::App& noun, Invocation& inv, const std::string& verb,
                              const std::string& help, const std::string& arg,
                              const std::string& arg_help, ArgumentAction run);

}  // namespace autovibe::cli
