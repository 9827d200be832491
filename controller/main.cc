// autovibe-controller: see DESIGN.md, "Daemons".
#include <iostream>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "controller/controller.h"

int main(int argc, char** argv) {
  auto args = autovibe::ParseControllerArgs(argc, argv);
  if (args.exit_code >= 0) return args.exit_code;
  autovibe::InitLogging("controller", args.config.log_level);
  int code = 1;
  {
    auto controller = autovibe::CreateController(args.config);
    if (!controller) {
      spdlog::critical("cannot start: {}", controller.error().message);
      std::cerr << "autovibe-controller: " << controller.error().message << "\n";
      return 1;
    }
    code = (*controller)->Run();
  }
  autovibe::ShutdownNatsLibrary();
  spdlog::info("controller stopped");
  return code;
}
