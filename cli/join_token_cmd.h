// `autovibe machines join-token create [--pool P] [--ttl 1h]`: a one-time join token for an
// agent started by hand, by Terraform or by cloud-init.
#pragma once

#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds `join-token create` under the `machines` noun.
void AddJoinTokenCommands(CLI::App& machines, Invocation& inv);

struct JoinTokenOptions {
  std::string pool;
  std::string ttl;  // empty: the controller's default (1h)
};

// Prints the token alone on stdout (so `TOKEN=$(autovibe machines join-token create)` works),
// and with --json the whole answer: {"id","token","pool","expires_at"}.
CliStatus CreateJoinToken(CommandContext& ctx, const JoinTokenOptions& options);

}  // namespace autovibe::cli
