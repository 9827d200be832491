// The `docker` backend: a container per machine, from an image that holds the agent
// (scripts/build-agent-image.sh builds one from this tree's binaries). The container shares
// the host's network, so the agent reaches the bus the controller gives it; its config is
// bind-mounted read-only from the controller's machines dir; its data dir lives in the
// container, so a machine checkpoint (docker commit) carries its workspaces along.
#pragma once

#include <memory>
#include <string>

#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct DockerBackendOptions {
  std::string socket = "/var/run/docker.sock";
  std::string image = "autovibe-agent:latest";
  std::string network = "host";
  std::string agent_path = "/usr/local/bin/autovibe-agent";  // inside the image
  std::string machines_dir;  // on the controller's host: one config dir per machine
  std::string agent_toml;    // extra agent settings (AgentTomlOptions::extra_toml)
  // Images of machine checkpoints are named <snapshot_repo>:<checkpoint id>.
  std::string snapshot_repo = "autovibe-machine";
};

std::unique_ptr<Provisioner> MakeDockerProvisioner(DockerBackendOptions options);

}  // namespace autovibe
