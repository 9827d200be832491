#include "cli/verbs.h"

#include <CLI/CLI.hpp>
#include <memory>

namespace autovibe::cli {

CLI::App* AddVerb(CLI::App& noun, Invocation& inv, const std::string& verb, const std::string& help,
                  Action run) {
  CLI::App* sub = noun.add_subcommand(verb, help);
  sub->callback([&inv, command = noun.get_name() + " " + verb, run = std::move(run)] {
    inv.command = command;
    inv.action = run;
  });
  return sub;
}

CLI::App* AddVerbWithArgument(CLI::App& noun, Invocation& inv, const std::string& verb,
                              const std::string& help, const std::string& arg,
                              const std::string& arg_help, ArgumentAction run) {
  CLI::App* sub = noun.add_subcommand(verb, help);
  // The action outlives parsing, so the argument lives in shared storage.
  auto value = std::make_shared<std::string>();
  sub->add_option(arg, *value, arg_help)->required();
  sub->callback([&inv, command = noun.get_name() + " " + verb, value, run] {
    inv.command = command;
    inv.action = [value, run](CommandContext& ctx) { return run(ctx, *value); };
  });
  return sub;
}

}  // namespace autovibe::cli
