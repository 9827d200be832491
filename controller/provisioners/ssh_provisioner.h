// The `ssh` backend: adopts existing hosts. A machine is one host of the pool's list that no
// other machine holds: the agent binary and its config are uploaded over SFTP and the agent
// is installed as a systemd service (templates/systemd/autovibe-agent.service) and started;
// on a host without systemd it is started in a session of its own. Terminating a machine
// stops the agent and removes everything that was put there.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "controller/provisioners/provisioner.h"
#include "controller/provisioners/ssh_session.h"

namespace autovibe {

struct SshBackendOptions {
  std::vector<std::string> hosts;  // user@host[:port]
  SshCredentials credentials;
  std::string agent_binary;   // the local file uploaded to each host
  std::string unit_template;  // templates/systemd/autovibe-agent.service
  // Where things go on the host.
  std::string install_dir = "/opt/autovibe";  // bin/autovibe-agent, agent.toml, ...
  std::string data_dir = "/var/lib/autovibe/agent";
  std::string unit_path = "/etc/systemd/system/autovibe-agent.service";
  std::string agent_toml;  // extra agent settings (AgentTomlOptions::extra_toml)
};

std::unique_ptr<Provisioner> MakeSshProvisioner(SshBackendOptions options);

}  // namespace autovibe
