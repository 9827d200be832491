// `autovibe events [-f] [--kind K]... [--project P] [--since ID] [--json]`: the controller's
// events (machines, tasks, budgets, checkpoints, approvals). Without -f, the last 100 (or those
// after --since) and exit; with -f, new ones as they happen, for as long as it runs, resuming
// after the last one seen when the stream breaks or the controller drops a slow reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/task_follow.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

struct EventsFlags {
  bool follow = false;
  std::vector<std::string> kinds;
  std::string project;
  int64_t since = -1;  // -1: none
};

void AddEventsCommand(CLI::App& app, Invocation& inv);

// "/v1/events?kind=...&project=...&since=N&follow=false".
std::string EventsPath(const EventsFlags& f, int64_t since);

CliStatus ShowEvents(CommandContext& ctx, const EventsFlags& f, const Sleeper& sleep = SleepFor);

}  // namespace autovibe::cli
