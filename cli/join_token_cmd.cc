#include "cli/join_token_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "common/core/duration.h"

namespace autovibe::cli {

void AddJoinTokenCommands(CLI::App& machines, Invocation& inv) {
  CLI::App* tokens =
      machines.add_subcommand("join-token", "One-time tokens agents enrol with, once each");
  tokens->require_subcommand(1);
  CLI::App* create = tokens->add_subcommand(
      "create",
      "Make a join token: an agent started with --join-token T gets a bus user of its own");
  auto o = std::make_shared<JoinTokenOptions>();
  create->add_option("--pool", o->pool, "The joined machine carries the label pool=P");
  create->add_option("--ttl", o->ttl, "How long the token may be used [1h]");
  create->callback([&inv, o] {
    inv.command = "machines join-token create";
    inv.action = [o](CommandContext& ctx) { return CreateJoinToken(ctx, *o); };
  });
}

CliStatus CreateJoinToken(CommandContext& ctx, const JoinTokenOptions& o) {
  boost::json::object req;
  if (!o.pool.empty()) req["pool"] = o.pool;
  if (!o.ttl.empty()) {
    auto ttl = ParseDuration(o.ttl);
    if (!ttl || ttl->count() <= 0) {
      return CliError{kExitUsage, "--ttl: expected a duration like 30m or 1h"};
    }
    req["ttl"] = o.ttl;
  }
  auto body = ctx.client.Post("/v1/machines/join-tokens", req);
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  const std::string token = body->is_object() ? StringField(body->get_object(), "token") : "";
  if (token.empty()) {
    return CliError{kExitFailure,
                    "unexpected answer from the controller to POST /v1/machines/join-tokens"};
  }
  ctx.out << token << "\n";
  return {};
}

}  // namespace autovibe::cli
