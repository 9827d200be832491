// autovibe-agent: see DESIGN.md, "Daemons".
#include <iostream>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "worker-agent/agent.h"

int main(int argc, char** argv) {
  auto args = autovibe::ParseAgentArgs(argc, argv);
  if (args.exit_code >= 0) return args.exit_code;
  autovibe::InitLogging("agent", args.config.log_level);
  int code = 1;
  {
    auto agent = autovibe::CreateAgent(args.config);
    if (!agent) {
      std::cerr << "autovibe-agent: " << agent.error().message << "\n";
      return 1;
    }
    code = (*agent)->Run();
  }
  autovibe::ShutdownNatsLibrary();
  spdlog::info("agent stopped");
  return code;
}
