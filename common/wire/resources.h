// Resources on the wire (v1::Resources), for the agent's heartbeats and registrations and the
// controller's agents/ that reads them.
#pragma once

#include "autovibe/v1/machine.pb.h"
#include "common/core/resources.h"

namespace autovibe {

inline void ToProto(const Resources& r, v1::Resources& p) {
  p.set_cpu_cores(r.cpu_cores);
  p.set_mem_total_bytes(r.mem_total_bytes);
  p.set_mem_used_bytes(r.mem_used_bytes);
  p.set_disk_total_bytes(r.disk_total_bytes);
  p.set_disk_free_bytes(r.disk_free_bytes);
  p.set_load1(r.load1);
  p.set_workspaces_bytes(r.workspaces_bytes);
  p.set_repos_bytes(r.repos_bytes);
}

inline Resources FromProto(const v1::Resources& p) {
  return {p.cpu_cores(),       p.mem_total_bytes(), p.mem_used_bytes(),   p.disk_total_bytes(),
          p.disk_free_bytes(), p.load1(),           p.workspaces_bytes(), p.repos_bytes()};
}

}  // namespace autovibe
