#include "cli/webhook_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "cli/verbs.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

constexpr size_t kMaxCaBytes = 64 << 10;  // the controller's limit (notify/webhook_rules.h)

CliResult<std::string> ReadCa(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return CliError{kExitUsage, "--ca: cannot read " + file + ": " + std::strerror(errno)};
  std::string pem(kMaxCaBytes + 1, '\0');
  in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
  pem.resize(static_cast<size_t>(in.gcount()));
  if (pem.size() > kMaxCaBytes) return CliError{kExitUsage, "--ca: " + file + " is over 64 KiB"};
  return pem;
}

void PrintWebhookTable(std::ostream& out, const json::array& hooks, int64_t now_ms) {
  Table table({"ID", "URL", "KINDS", "PROJECT", "FORMAT", "CA", "AGE"});
  for (const auto& item : hooks) {
    if (!item.is_object()) continue;
    const json::object& w = item.get_object();
    table.AddRow({OrDash(StringField(w, "id")), Truncate(StringField(w, "url"), 60),
                  OrDash(w.contains("kinds") ? FormatList(w.at("kinds")) : ""),
                  OrDash(StringField(w, "project")), OrDash(StringField(w, "format")),
                  OrDash(StringField(w, "ca")), AgeField(w, "created_at", now_ms)});
  }
  table.Print(out);
}

void PrintDeliveryTable(std::ostream& out, const json::array& deliveries, int64_t now_ms) {
  Table table({"ID", "KIND", "STATE", "ATTEMPTS", "STATUS", "ERROR", "AGE"});
  for (const auto& item : deliveries) {
    if (!item.is_object()) continue;
    const json::object& d = item.get_object();
    const auto attempts = IntField(d, "attempts");
    const auto status = IntField(d, "last_status");
    table.AddRow({OrDash(StringField(d, "id")), OrDash(StringField(d, "kind")),
                  OrDash(StringField(d, "state")), attempts ? std::to_string(*attempts) : "-",
                  status && *status != 0 ? std::to_string(*status) : "-",
                  OrDash(Truncate(StringField(d, "last_error"), 60)),
                  AgeField(d, "created_at", now_ms)});
  }
  table.Print(out);
}

}  // namespace

void AddWebhookCommands(CLI::App& app, Invocation& inv) {
  CLI::App* webhook = app.add_subcommand(
      "webhook", "Signed notifications: budget alerts, task ends, lost machines, to a URL");
  webhook->require_subcommand(1);

  CLI::App* add = webhook->add_subcommand(
      "add", "Subscribe a URL to events; prints its id and its signing secret (shown once)");
  auto o = std::make_shared<WebhookOptions>();
  add->add_option("URL", o->url, "https:// URL to POST to (http:// only to loopback)")->required();
  add->add_option("--kind", o->kinds,
                  "budget_alert, budget_exhausted, task_succeeded, task_failed, "
                  "task_awaiting_review, machine_lost, spawn_failed (repeat or comma-separate)")
      ->required()
      ->delimiter(',')
      ->type_name("K");
  add->add_option("--project", o->project,
                  "Only this project's events (none: every project's "
                  "and the machines')")
      ->type_name("P");
  add->add_option("--format", o->format, "json (default) or slack")->type_name("F");
  add->add_option("--ca", o->ca_file,
                  "PEM file of the CA that signed the receiver's certificate (default: the "
                  "system's CAs)")
      ->type_name("FILE");
  add->add_option("--secret", o->secret, "Signing secret to use instead of a new one")
      ->type_name("S");
  add->callback([&inv, o] {
    inv.command = "webhook add";
    inv.action = [o](CommandContext& ctx) { return AddWebhook(ctx, *o); };
  });
  AddVerb(*webhook, inv, "list", "List webhooks (never their secrets)", ListWebhooks);
  AddVerbWithArgument(*webhook, inv, "remove", "Remove a webhook and its delivery log", "ID",
                      "Webhook id", RemoveWebhook);
  AddVerbWithArgument(*webhook, inv, "deliveries",
                      "A webhook's newest deliveries: state, attempts, last answer or error", "ID",
                      "Webhook id", ListDeliveries);
  AddVerbWithArgument(*webhook, inv, "test", "Send a webhook a test notification; prints its id",
                      "ID", "Webhook id", TestWebhook);
}

CliStatus AddWebhook(CommandContext& ctx, const WebhookOptions& o) {
  json::object req{{"url", o.url}};
  json::array kinds;
  for (const std::string& k : o.kinds) kinds.emplace_back(k);
  req["kinds"] = std::move(kinds);
  if (!o.project.empty()) req["project"] = o.project;
  if (!o.format.empty()) req["format"] = o.format;
  if (!o.secret.empty()) req["secret"] = o.secret;
  if (!o.ca_file.empty()) {
    auto pem = ReadCa(o.ca_file);
    if (!pem) return pem.error();
    req["ca_pem"] = *pem;
  }
  auto body = ctx.client.Post("/v1/webhooks", req);
  if (!body) return body.error();
  if (ctx.options.json) {
    PrintJson(ctx.out, *body);
    return {};
  }
  const json::object* w = body->if_object();
  const std::string id = w != nullptr ? StringField(*w, "id") : "";
  if (id.empty()) {
    return CliError{kExitFailure, "unexpected answer from the controller to POST /v1/webhooks"};
  }
  ctx.out << id << "\nsigning secret (shown once): " << StringField(*w, "secret") << "\n";
  return {};
}

CliStatus ListWebhooks(CommandContext& ctx) {
  return GetAndPrintList(ctx, "/v1/webhooks", "webhooks", "no webhooks",
                         [&](const json::array& w) { PrintWebhookTable(ctx.out, w, ctx.now_ms); });
}

CliStatus RemoveWebhook(CommandContext& ctx, const std::string& id) {
  return CallAndPrint(ctx, "DELETE", "/v1/webhooks/" + PathSegment(id),
                      [&](const json::object&) { ctx.out << "removed webhook " << id << '\n'; });
}

CliStatus ListDeliveries(CommandContext& ctx, const std::string& id) {
  return GetAndPrintList(ctx, "/v1/webhooks/" + PathSegment(id) + "/deliveries", "deliveries",
                         "no deliveries",
                         [&](const json::array& d) { PrintDeliveryTable(ctx.out, d, ctx.now_ms); });
}

CliStatus TestWebhook(CommandContext& ctx, const std::string& id) {
  const std::string path = "/v1/webhooks/" + PathSegment(id) + "/test";
  auto body = ctx.client.Call("POST", path);
  if (!body) return body.error();
  return PrintCreated(ctx, *body, "POST " + path, "id");
}

}  // namespace autovibe::cli
