#include "cli/app.h"

#include <algorithm>
#include <string>
#include <vector>

#include "cli/audit_cmd.h"
#include "cli/budget_cmd.h"
#include "cli/checkpoint_cmd.h"
#include "cli/events_cmd.h"
#include "cli/machines_cmd.h"
#include "cli/project_cmd.h"
#include "cli/secret_cmd.h"
#include "cli/table.h"
#include "cli/task_cmd.h"
#include "cli/token_cmd.h"
#include "cli/usage_cmd.h"
#include "cli/webhook_cmd.h"
#include "common/core/time.h"

#ifndef AUTOVIBE_VERSION
#define AUTOVIBE_VERSION "dev"
#endif

namespace autovibe::cli {
namespace {

// An error without a message has been reported already (`task submit --wait` shows the
// task's outcome and ends with its exit code).
void PrintError(std::ostream& err, const CliError& error) {
  if (!error.message.empty()) err << "autovibe: " << error.message << '\n';
}

// Subcommand help lists only the subcommand's own options; point at the global ones.
void AddGlobalOptionsFooter(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    sub->footer(
        "Global options (anywhere on the line): --controller URL, --token T, --ca FILE, "
        "--pin SHA256, --json; see autovibe --help");
    AddGlobalOptionsFooter(*sub);
  }
}

// The deepest command named on the line: for "autovibe machines", the `machines` app.
const CLI::App* SelectedCommand(const CLI::App* app) {
  while (!app->get_subcommands().empty()) app = app->get_subcommands().front();
  return app;
}

// "autovibe machines" for the `machines` app.
std::string CommandPath(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* p = app; p != nullptr; p = p->get_parent()) names.push_back(p->get_name());
  return Join({names.rbegin(), names.rend()}, " ");
}

// CLI11's "A subcommand is required" does not say which; name the choices and the word that
// did not match one.
std::string FailureMessage(const CLI::App* app, const CLI::Error& e) {
  std::string what = e.what();
  const CLI::App* at = SelectedCommand(app);
  const auto verbs = at->get_subcommands([](const CLI::App*) { return true; });
  if (e.get_name() == "RequiredError" && !verbs.empty()) {
    std::vector<std::string> names;
    names.reserve(verbs.size());
    for (const CLI::App* verb : verbs) names.push_back(verb->get_name());
    const std::string choices = " (one of: " + Join(names, ", ") + ")";
    const auto extras = app->remaining(true);
    if (extras.empty()) {
      what = "missing command after \"" + CommandPath(at) + "\"" + choices;
    } else if (extras.front().starts_with("-")) {
      what = "unknown option \"" + extras.front() + "\"";
    } else {
      what = "unknown command \"" + extras.front() + "\"" +
             (at->get_parent() ? " after \"" + CommandPath(at) + "\"" : "") + choices;
    }
  }
  return "autovibe: " + what + "\nRun with --help for more information.\n";
}

}  // namespace

std::unique_ptr<CLI::App> BuildApp(Invocation& inv) {
  auto app = std::make_unique<CLI::App>(
      "autovibe: the command-line client of the autovibe controller", "autovibe");
  // Set before any subcommand is added, so that every subcommand inherits it: an option a
  // subcommand does not know is handed to its parent, which makes global options positionless.
  app->fallthrough();
  app->failure_message(FailureMessage);
  app->require_subcommand(1);
  app->set_version_flag("--version", AUTOVIBE_VERSION);

  GlobalOptions& o = inv.options;
  app->add_option(
         "--controller", o.controller,
         "Controller URL; else $AUTOVIBE_CONTROLLER, else " + std::string(kDefaultControllerUrl))
      ->type_name("URL");
  app->add_option("--token", o.token,
                  "API token; else $AUTOVIBE_TOKEN, else the first line of the file named by "
                  "$AUTOVIBE_TOKEN_FILE, else of " +
                      std::string(kDefaultTokenFile) + " if readable")
      ->type_name("T");
  app->add_option("--ca", o.ca,
                  "https: the CA certificate (PEM) the controller's certificate must be signed "
                  "by; else $AUTOVIBE_CA, else for a controller on this host (a loopback URL) "
                  "the self-signed certificate beside its token file (" +
                      std::string(kLocalCertFile) + " in its data dir), else the system's CAs")
      ->type_name("FILE");
  app->add_option("--pin", o.pin,
                  "https: the SHA-256 fingerprint the controller's certificate must have (a "
                  "self-signed one; the controller logs it); else $AUTOVIBE_PIN. Replaces --ca")
      ->type_name("SHA256");
  app->add_flag("--json", o.json, "Print the API's JSON instead of a table");

  AddMachineCommands(*app, inv);
  AddProjectCommands(*app, inv);
  AddTaskCommands(*app, inv);
  AddBudgetCommands(*app, inv);
  AddCheckpointCommands(*app, inv);
  AddUsageCommand(*app, inv);
  AddSecretCommands(*app, inv);
  AddTokenCommands(*app, inv);
  AddWebhookCommands(*app, inv);
  AddAuditCommands(*app, inv);
  AddEventsCommand(*app, inv);

  AddGlobalOptionsFooter(*app);
  return app;
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv,
                                    std::ostream& out, std::ostream& err) {
  std::vector<std::string> args;
  if (argc > 1) args.assign(argv + 1, argv + argc);
  return ParseCommandLine(app, std::move(args), out, err);
}

std::optional<int> ParseCommandLine(CLI::App& app, std::vector<std::string> args, std::ostream& out,
                                    std::ostream& err) {
  // CLI11 takes a vector of arguments last-first.
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

int RunCommand(const Invocation& inv, const Client& client, int64_t now_ms, std::ostream& out,
               std::ostream& err) {
  if (!inv.action) {
    // Every leaf command sets an action; reaching here means a noun forgot to.
    PrintError(err, CliError{kExitUsage, "no command given; see autovibe --help"});
    return kExitUsage;
  }
  CommandContext ctx{client, inv.options, out, now_ms, &err};
  CliStatus status = inv.action(ctx);
  out.flush();
  if (!status) {
    PrintError(err, status.error());
    return status.error().exit_code;
  }
  return 0;
}

int Run(const Invocation& inv, std::ostream& out, std::ostream& err) {
  auto endpoint = ResolveEndpoint(inv.options, ProcessEnv);
  if (!endpoint) {
    PrintError(err, endpoint.error());
    return endpoint.error().exit_code;
  }
  Client client(std::move(*endpoint));
  return RunCommand(inv, client, SystemClock().NowMs(), out, err);
}

}  // namespace autovibe::cli
