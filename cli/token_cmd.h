// `autovibe token create NAME --role admin|operator|viewer [--project P]... [--expires 30d] |
// list | revoke NAME`: API tokens with a role and an optional project scope.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `token` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddTokenCommands(CLI::App& app, Invocation& inv);

struct TokenOptions {
  std::string name;
  std::string role;
  std::vector<std::string> projects;  // none: every project
  std::string expires;                // empty: never
};

// Prints the new token's secret alone on stdout (so `T=$(autovibe token create ...)` works),
// this once, and on stderr how to use it; with --json the whole answer.
CliStatus CreateToken(CommandContext& ctx, const TokenOptions& options);
CliStatus ListTokens(CommandContext& ctx);
CliStatus RevokeToken(CommandContext& ctx, const std::string& name);

}  // namespace autovibe::cli
