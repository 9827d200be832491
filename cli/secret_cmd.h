// `autovibe secret set NAME --from-file F | list | delete NAME`: secrets the controller keeps
// for tasks (repository credentials, forge tokens). Their values go in and never come back.
#pragma once

#include <istream>
#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `secret` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddSecretCommands(CLI::App& app, Invocation& inv);

// Sends the bytes of `file` ("-": `stdin`) as the value of secret `name` and prints the name
// (--json: the controller's answer, which holds no value). The value must be UTF-8 text of at
// most 64 KiB; it is sent as it is, a trailing newline included.
CliStatus SetSecret(CommandContext& ctx, const std::string& name, const std::string& file,
                    std::istream& stdin_stream);
CliStatus ListSecrets(CommandContext& ctx);
CliStatus DeleteSecret(CommandContext& ctx, const std::string& name);

}  // namespace autovibe::cli
