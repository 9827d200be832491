// The agent's config file as a provisioner writes it for a machine it makes: the bus, the
// machine's own credentials, its name, labels and backend, plus the pool's extra settings.
#pragma once

#include <string>

#include "common/core/result.h"
#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct AgentTomlOptions {
  std::string data_dir;  // on the machine
  std::string backend;
  // TOML appended as is (the pool's agent settings: upstreams, meter, task_slots, ...);
  // checked to parse, and to set none of the keys the provisioner writes itself.
  std::string extra_toml;
};

// Errors: bad_config (extra_toml does not parse or sets a key the provisioner owns).
Result<std::string> RenderAgentToml(const MachineLaunch& launch, const AgentTomlOptions& options);

}  // namespace autovibe
