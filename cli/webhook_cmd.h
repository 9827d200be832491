// `autovibe webhook add URL --kind K... [--project P] [--format slack|json] [--ca FILE]
// [--secret S] | list | remove ID | deliveries ID | test ID`: signed notifications.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

struct WebhookOptions {
  std::string url;
  std::vector<std::string> kinds;  // each may hold several, comma-separated
  std::string project;
  std::string format;
  std::string ca_file;  // read here and sent as PEM: the controller may run elsewhere
  std::string secret;
};

// Adds the `webhook` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddWebhookCommands(CLI::App& app, Invocation& inv);

// Prints the new webhook's id and, on the next line, its signing secret, which no later
// command shows (--json: the controller's answer, secret included).
CliStatus AddWebhook(CommandContext& ctx, const WebhookOptions& o);
CliStatus ListWebhooks(CommandContext& ctx);
CliStatus RemoveWebhook(CommandContext& ctx, const std::string& id);
CliStatus ListDeliveries(CommandContext& ctx, const std::string& id);
CliStatus TestWebhook(CommandContext& ctx, const std::string& id);

}  // namespace autovibe::cli
