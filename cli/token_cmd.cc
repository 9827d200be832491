#include "cli/token_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "cli/verbs.h"
#include "common/core/duration.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

void PrintTokenTable(std::ostream& out, const json::array& tokens, int64_t now_ms) {
  Table table({"NAME", "ROLE", "PROJECTS", "CREATED", "EXPIRES", "LAST USED"});
  for (const auto& item : tokens) {
    if (!item.is_object()) continue;
    const json::object& t = item.get_object();
    const json::value* projects = t.if_contains("projects");
    std::string scope = projects != nullptr ? FormatList(*projects) : "";
    std::string expires = OrDash(StringField(t, "expires_at"));
    if (const json::value* e = t.if_contains("expired");
        e != nullptr && e->is_bool() && e->get_bool()) {
      expires += " (expired)";
    }
    table.AddRow({OrDash(StringField(t, "name")), OrDash(StringField(t, "role")),
                  scope.empty() ? "all" : scope, AgeField(t, "created_at", now_ms), expires,
                  AgeField(t, "last_used_at", now_ms)});
  }
  table.Print(out);
}

}  // namespace

void AddTokenCommands(CLI::App& app, Invocation& inv) {
  CLI::App* token =
      app.add_subcommand("token", "API tokens with a role and, optionally, a few projects");
  token->require_subcommand(1);
  CLI::App* create = token->add_subcommand(
      "create", "Make a token; its secret is printed this once and never shown again");
  auto o = std::make_shared<TokenOptions>();
  create->add_option("NAME", o->name, "Token name: 1-64 of A-Z a-z 0-9 . _ -")->required();
  create
      ->add_option("--role", o->role,
                   "viewer reads; operator also acts on tasks, projects, "
                   "budgets and checkpoints; admin also runs the fleet")
      ->required()
      ->check(CLI::IsMember({"admin", "operator", "viewer"}));
  create
      ->add_option("--project", o->projects,
                   "Limit the token to this project (repeat for more); default: every project")
      ->type_name("P");
  create->add_option("--expires", o->expires, "The token stops working after this long (30d)")
      ->type_name("DURATION");
  create->callback([&inv, o] {
    inv.command = "token create";
    inv.action = [o](CommandContext& ctx) { return CreateToken(ctx, *o); };
  });
  AddVerb(*token, inv, "list", "List tokens: names, roles, projects and times, never secrets",
          ListTokens);
  AddVerbWithArgument(*token, inv, "revoke", "Revoke a token: it is refused from now on", "NAME",
                      "Token name", RevokeToken);
}

CliStatus CreateToken(CommandContext& ctx, const TokenOptions& o) {
  json::object req{{"name", o.name}, {"role", o.role}};
  if (!o.projects.empty()) {
    json::array projects;
    for (const auto& p : o.projects) projects.emplace_back(p);
    req["projects"] = std::move(projects);
  }
  if (!o.expires.empty()) {
    auto d = ParseDuration(o.expires);
    if (!d || d->count() <= 0) {
      return CliError{kExitUsage, "--expires: expected a duration like 30d or 12h"};
    }
    req["expires"] = o.expires;
  }
  auto body = ctx.client.Post("/v1/tokens", req);
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  const std::string secret = body->is_object() ? StringField(body->get_object(), "token") : "";
  if (secret.empty()) {
    return CliError{kExitFailure, "unexpected answer from the controller to POST /v1/tokens"};
  }
  ctx.out << secret << "\n";
  if (ctx.err != nullptr) {
    *ctx.err << "token " << o.name << " (" << o.role
             << "): the secret above is shown this once. Use it with "
                "AUTOVIBE_TOKEN=<secret> autovibe ... (or --token)\n";
  }
  return {};
}

CliStatus ListTokens(CommandContext& ctx) {
  return GetAndPrintList(ctx, "/v1/tokens", "tokens", "no tokens",
                         [&](const json::array& t) { PrintTokenTable(ctx.out, t, ctx.now_ms); });
}

CliStatus RevokeToken(CommandContext& ctx, const std::string& name) {
  const std::string path = "/v1/tokens/" + PathSegment(name);
  return CallAndPrint(ctx, "DELETE", path,
                      [&](const json::object&) { ctx.out << "revoked token " << name << '\n'; });
}

}  // namespace autovibe::cli
