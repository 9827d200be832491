// A machine as the controller knows and stores it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/core/resources.h"
#include "controller/model/machine_state.h"

namespace autovibe {

struct MachineRecord {
  std::string id;
  std::string name;
  std::string backend = "manual";
  MachineState state = MachineState::kReady;
  std::map<std::string, std::string> labels;
  std::vector<std::string> tools;
  Resources resources;
  std::string agent_version;
  int64_t last_heartbeat_at_ms = 0;
  int64_t registered_at_ms = 0;
  int64_t created_at_ms = 0;
  std::string instance_id;  // the agent process that registered last
  uint32_t task_slots = 0;  // 0: the controller's default
  // Machines the controller provisioned itself: the pool, and the backend's handle on the
  // instance (a pid, a container id, a libvirt domain, a Proxmox vmid, a host).
  std::string pool;
  std::string instance;
  std::string spawned_from;  // the machine checkpoint it was cloned from, if any
};

// What an agent says when it registers (DESIGN.md, "Bus protocol": av.register).
struct MachineRegistration {
  std::string name;
  std::string machine_id;  // the id the agent held before, if any
  std::string agent_version;
  std::string backend;  // how the machine came to be: local, docker, libvirt, ...
  std::map<std::string, std::string> labels;
  std::vector<std::string> tools;
  Resources resources;
  std::vector<std::string> running_task_ids;
  std::string instance_id;  // the agent process
  uint32_t task_slots = 0;  // 0: the controller's default
};

// What an agent says in a heartbeat (av.hb.<m>).
struct HeartbeatReport {
  std::string machine_id;
  uint64_t sequence = 0;
  Resources resources;
  std::vector<std::string> running_task_ids;
  int64_t sent_at_unix_ns = 0;  // the agent's clock
};

// A whole-machine checkpoint (a container image, a VM snapshot) its backend took.
struct MachineCheckpointRecord {
  std::string id;  // "cp-..."
  std::string machine_id;
  std::string pool;
  std::string backend;
  std::string ref;    // the backend's name for it (image, snapshot)
  std::string state;  // "creating", "ready", "failed"
  std::string error;
  int64_t created_at_ms = 0;
};

}  // namespace autovibe
