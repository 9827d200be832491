#include "controller/api/machine_json.h"

#include <boost/json.hpp>

#include "common/core/time.h"

namespace autovibe {

boost::json::object MachineToJson(const MachineRecord& m) {
  boost::json::object labels;
  for (const auto& [k, v] : m.labels) labels[k] = v;
  boost::json::array tools;
  for (const auto& t : m.tools) tools.emplace_back(t);
  boost::json::object resources{{"cpu_cores", m.resources.cpu_cores},
                                {"mem_total_bytes", m.resources.mem_total_bytes},
                                {"mem_used_bytes", m.resources.mem_used_bytes},
                                {"disk_total_bytes", m.resources.disk_total_bytes},
                                {"disk_free_bytes", m.resources.disk_free_bytes},
                                {"load1", m.resources.load1},
                                {"workspaces_bytes", m.resources.workspaces_bytes},
                                {"repos_bytes", m.resources.repos_bytes}};
  return {{"id", m.id},
          {"name", m.name},
          {"backend", m.backend},
          {"pool", m.pool},
          {"instance", m.instance},
          {"spawned_from", m.spawned_from},
          {"state", ToString(m.state)},
          {"labels", std::move(labels)},
          {"tools", std::move(tools)},
          {"resources", std::move(resources)},
          {"agent_version", m.agent_version},
          {"last_heartbeat_at", FormatRfc3339(m.last_heartbeat_at_ms)},
          {"registered_at", FormatRfc3339(m.registered_at_ms)},
          {"created_at", FormatRfc3339(m.created_at_ms)}};
}

}  // namespace autovibe
