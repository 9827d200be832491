// `autovibe audit [--actor A] [--project P] [--object O] [--since T] [--until T] [--limit N]
// [--cursor C]` lists the controller's audit log, newest first; `autovibe audit verify`
// fetches every record and recomputes the hash chain here (`--server`: asks the controller to
// check it instead), exiting 1 at the first record that was changed, removed or reordered.
#pragma once

#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

struct AuditFlags {
  std::string actor;
  std::string project;
  std::string object;
  std::string since;
  std::string until;
  int limit = 0;  // 0: the controller's default (100)
  std::string cursor;
};

// Adds the `audit` noun (and its `verify` verb) to `app`; parsing it fills `inv`.
void AddAuditCommands(CLI::App& app, Invocation& inv);

// "/v1/audit?actor=...": the filters as the API takes them (times and durations as given).
std::string AuditPath(const AuditFlags& f);
CliStatus ListAudit(CommandContext& ctx, const AuditFlags& f);
// Exit 1 when the chain is broken, saying at which record and why.
CliStatus VerifyAudit(CommandContext& ctx, bool on_server);

}  // namespace autovibe::cli
