// The adapter registry and the plain exit-code verdict.
#include <string.h>

#include <string>

#include "worker-agent/tools/builtin.h"

namespace autovibe::tools {
namespace {

class ExitCodeRun final : public ToolRun {
 public:
  ToolVerdict Finish(int exit_code, int signal) override {
    return VerdictFromExit(exit_code, signal);
  }
};

}  // namespace

std::vector<const ToolAdapter*> AllAdapters() {
  return {&ShellAdapter(), &ClaudeCodeAdapter(), &AiderAdapter(), &CodexAdapter()};
}

const ToolAdapter* FindAdapter(std::string_view tool) {
  for (const ToolAdapter* adapter : AllAdapters()) {
    if (adapter->name() == tool) return adapter;
  }
  return nullptr;
}

std::string SignalName(int signal) {
  // sigabbrev_np (glibc 2.32+) gives "TERM" without the "SIG"; nullptr for unknown numbers.
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(signal);
}

ToolVerdict VerdictFromExit(int exit_code, int signal) {
  ToolVerdict verdict;
  if (signal != 0) {
    verdict.reason = "killed by signal " + SignalName(signal);
  } else if (exit_code != 0) {
    verdict.reason = "exit code " + std::to_string(exit_code);
  } else {
    verdict.outcome = v1::TASK_OUTCOME_SUCCEEDED;
  }
  return verdict;
}

std::unique_ptr<ToolRun> MakeExitCodeRun() { return std::make_unique<ExitCodeRun>(); }

}  // namespace autovibe::tools
