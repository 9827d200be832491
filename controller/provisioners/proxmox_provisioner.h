// The `proxmox` backend: a client of the Proxmox VE API (/api2/json, API-token header). A
// machine is a VM cloned from a template (linked) or from a machine checkpoint (a snapshot of
// another VM, full clone); the agent's settings reach it through cloud-init: a user-data
// snippet written to the snippets directory of a storage and named in the VM's `cicustom`.
// Every call that returns a task id (UPID) waits for the task to end.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controller/provisioners/cloud_init.h"
#include "controller/provisioners/provisioner.h"

namespace autovibe {

struct ProxmoxBackendOptions {
  std::string url;    // "https://pve.example:8006"
  std::string token;  // "user@realm!tokenid=secret"
  std::string node = "pve";
  std::string template_vmid;  // the VM template machines are cloned from
  bool full_clone = false;    // from the template; clones from snapshots are always full
  std::string storage;        // target storage of full clones; empty: the source's
  std::string snippets_storage = "local";             // its content types include snippets
  std::string snippets_dir = "/var/lib/vz/snippets";  // that storage's snippets, as seen here
  std::string ca_file;
  bool verify_tls = true;
  std::chrono::milliseconds task_timeout{10 * 60'000};
  std::chrono::milliseconds poll_every{500};
  std::string agent_toml;     // extra agent settings (AgentTomlOptions::extra_toml)
  std::string templates_dir;  // cloud-init/agent.yaml and systemd/autovibe-agent.service
  // Where cloud-init fetches the agent from, for images without it (cloud_init.h).
  AgentDownload agent_download;
  // The pool's tools: cloud-init installs those the image lacks (AgentUserData).
  std::vector<std::string> tools;
};

std::unique_ptr<Provisioner> MakeProxmoxProvisioner(ProxmoxBackendOptions options);

}  // namespace autovibe
