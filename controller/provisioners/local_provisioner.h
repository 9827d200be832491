// The `local` backend: each machine is an agent process on the controller's own host, with a
// data dir of its own. The embedded default, used by the quickstart.
#pragma once

#include <memory>
#include <string>

#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct LocalBackendOptions {
  std::string agent_binary;  // autovibe-agent
  std::string machines_dir;  // one data dir per machine under it
  std::string agent_toml;    // extra agent settings (AgentTomlOptions::extra_toml)
  // How long a terminated agent may take to stop before it is killed.
  std::chrono::milliseconds stop_grace{10'000};
};

std::unique_ptr<Provisioner> MakeLocalProvisioner(LocalBackendOptions options);

}  // namespace autovibe
