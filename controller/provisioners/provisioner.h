// The seam between the controller and whatever makes machines: local agent processes,
// containers, libvirt or Proxmox VMs, hosts adopted over SSH. One implementation per backend,
// chosen by a pool's configuration.
//
// Every call blocks (it forks, talks to a daemon or an API, waits on a task) and runs on the
// controller's provisioning threads, never on the owner thread; an implementation keeps no
// state that two calls could race on beyond what its backend itself serialises.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

// What the agent of a new machine must be told to join the fleet as itself.
struct AgentSettings {
  std::string nats_url;
  std::string nats_user;  // the machine's own bus credentials; empty when the bus has none
  std::string nats_password;
  // The CA (PEM) the agent verifies nats-server's certificate with; empty: none given.
  std::string nats_ca_pem;
  std::string subject_prefix = "av";
  std::map<std::string, std::string> labels;  // the pool's labels
};

// One machine to bring up.
struct MachineLaunch {
  std::string machine_id;
  std::string name;  // the agent registers under it
  std::string pool;
  AgentSettings agent;
  // A machine checkpoint of this backend to clone the machine from (its ref); empty: a fresh
  // machine from the pool's image.
  std::string from_snapshot;
};

class Provisioner {
 public:
  virtual ~Provisioner() = default;

  // "local", "docker", "libvirt", "proxmox", "ssh".
  virtual std::string_view backend() const = 0;

  // Creates and starts the machine; its agent then registers on its own. Returns the
  // instance: the backend's handle on it, stored with the machine. On failure nothing of the
  // machine is left behind.
  virtual Result<std::string> Create(const MachineLaunch& launch) = 0;

  // Stops and removes the instance and what belongs to it alone (its disk, its data dir).
  // An instance that is gone already is not an error.
  virtual Result<void> Destroy(const std::string& name, const std::string& instance) = 0;

  // Whether the backend can take whole-machine checkpoints.
  virtual bool CanSnapshot() const { return false; }
  // Takes a whole-machine checkpoint named `snapshot` of a running machine; returns its ref
  // for Create (MachineLaunch::from_snapshot) and DeleteSnapshot.
  virtual Result<std::string> Snapshot(const std::string& name, const std::string& instance,
                                       const std::string& snapshot) {
    (void)name, (void)instance, (void)snapshot;
    return MakeError(ErrorCode::kUnsupported,
                     "the " + std::string(backend()) + " backend cannot take machine checkpoints");
  }
  // Whether a machine can be put back on one of its checkpoints.
  virtual bool CanRevert() const { return false; }
  // Puts the machine back to checkpoint `ref` (from Snapshot of this machine): its disk is
  // what it was then and it boots again; its agent comes back as the same machine.
  virtual Result<void> Revert(const std::string& name, const std::string& instance,
                              const std::string& ref) {
    (void)name, (void)instance, (void)ref;
    return MakeError(ErrorCode::kUnsupported,
                     "the " + std::string(backend()) + " backend cannot revert machines");
  }
  virtual Result<void> DeleteSnapshot(const std::string& ref) {
    (void)ref;
    return MakeError(ErrorCode::kUnsupported,
                     "the " + std::string(backend()) + " backend has no machine checkpoints");
  }
};

}  // namespace autovibe
