// The controller process: wires the bus, the store, the fleet and the HTTP API onto one
// owner thread (an io_context), and stops cleanly on SIGTERM/SIGINT.
#pragma once

#include <memory>

#include "common/core/result.h"
#include "controller/config.h"

namespace autovibe {

class Controller {
 public:
  virtual ~Controller() = default;
  // Runs until a stop signal (or Stop()). Returns the process exit code.
  virtual int Run() = 0;
  // Thread-safe.
  virtual void Stop() = 0;
};

// Opens the store, loads the fleet, writes the admin token on first start, binds the API and
// connects to the bus (which may still be coming up). Fails on anything a user must fix.
Result<std::unique_ptr<Controller>> CreateController(const ControllerConfig& config);

}  // namespace autovibe
