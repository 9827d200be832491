// Makes the provisioner a pool's configuration asks for.
#pragma once

#include <memory>
#include <string>

#include "common/core/result.h"
#include "controller/provisioners/pool_config.h"
#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct ProvisionerContext {
  std::string data_dir;       // the controller's
  std::string agent_binary;   // autovibe-agent next to the controller, unless a pool says
  std::string templates_dir;  // the repository's templates/ (DefaultTemplatesDir())
};

// Reads the pool's [pool.<backend>] table. Errors: bad_config (an unknown or bad key),
// unavailable (the backend cannot be reached or set up).
Result<std::unique_ptr<Provisioner>> MakeProvisioner(const PoolConfig& pool,
                                                     const ProvisionerContext& context);

// The pool's settings for its machines' agent config: task_slots, task_user, network, then
// [pool.agent] as given.
std::string PoolAgentToml(const PoolConfig& pool);

// The directory of the running program (for its sibling binaries).
std::string SelfDir();
// templates/ of the source tree the running program was built in, else the installed one.
std::string DefaultTemplatesDir();

}  // namespace autovibe
