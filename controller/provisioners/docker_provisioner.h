// The `docker` backend: a container per machine, from an image that holds the agent
// (scripts/build-agent-image.sh builds one from this tree's binaries). The container shares
// the host's network, so the agent reaches the bus the controller gives it; its config is
// bind-mounted read-only from the controller's machines dir; its data dir lives in the
// container, so a machine checkpoint (docker commit) carries its workspaces along.
#pragma once

#include <boost/json/object.hpp>
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
  // The agent boxes its tasks with bubblewrap (the pool's task_user is not "root"): the
  // container gets what that needs (DockerBoxHostConfig).
  bool boxed_tasks = true;
};

// HostConfig entries that let the agent box tasks inside a container: CAP_SYS_ADMIN for its
// keepers' mount and network namespaces, no seccomp or AppArmor profile (Docker's default ones
// refuse the user namespaces bubblewrap makes), and /proc unmasked (a new procfs cannot be
// mounted over a masked one). The agent runs as root in the container; its tasks never do.
void AddDockerBoxHostConfig(boost::json::object& host_config);

std::unique_ptr<Provisioner> MakeDockerProvisioner(DockerBackendOptions options);

}  // namespace autovibe
