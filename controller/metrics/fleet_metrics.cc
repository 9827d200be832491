// Each machine's resources from its heartbeats, and the pools with their spawns.
#include "controller/metrics/controller_metrics.h"

namespace autovibe {
namespace {

bool Gone(MachineState s) { return s == MachineState::kTerminated || s == MachineState::kFailed; }

}  // namespace

void RenderMachineMetrics(const Fleet& fleet, MetricsText& out) {
  std::vector<const MachineRecord*> machines;
  for (const MachineRecord* m : fleet.List()) {
    if (!Gone(m->state)) machines.push_back(m);
  }
  out.Family("autovibe_machine_info", "gauge",
             "1 for each machine not terminated or failed, with its name, state, pool and "
             "backend.");
  for (const MachineRecord* m : machines) {
    out.Sample("autovibe_machine_info",
               {{"machine", m->id},
                {"name", m->name},
                {"state", ToString(m->state)},
                {"pool", m->pool},
                {"backend", m->backend}},
               1);
  }
  struct Figure {
    const char* name;
    const char* help;
    double (*value)(const MachineRecord&);
  };
  static constexpr Figure kFigures[] = {
      {"autovibe_machine_cpu_cores", "CPU cores of the machine, from its heartbeats.",
       [](const MachineRecord& m) { return double(m.resources.cpu_cores); }},
      {"autovibe_machine_memory_total_bytes", "Memory of the machine.",
       [](const MachineRecord& m) { return double(m.resources.mem_total_bytes); }},
      {"autovibe_machine_memory_used_bytes", "Memory in use on the machine.",
       [](const MachineRecord& m) { return double(m.resources.mem_used_bytes); }},
      {"autovibe_machine_disk_total_bytes", "Size of the file system holding the agent's data.",
       [](const MachineRecord& m) { return double(m.resources.disk_total_bytes); }},
      {"autovibe_machine_disk_free_bytes", "What the agent may still use of that file system.",
       [](const MachineRecord& m) { return double(m.resources.disk_free_bytes); }},
      {"autovibe_machine_load1", "The machine's one-minute load average.",
       [](const MachineRecord& m) { return m.resources.load1; }},
      {"autovibe_machine_last_heartbeat_timestamp_seconds",
       "When the machine's last heartbeat arrived (Unix time; 0: none yet).",
       [](const MachineRecord& m) { return double(m.last_heartbeat_at_ms) / 1000; }},
  };
  for (const Figure& f : kFigures) {
    out.Family(f.name, "gauge", f.help);
    for (const MachineRecord* m : machines) {
      out.Sample(f.name, {{"machine", m->id}, {"name", m->name}}, f.value(*m));
    }
  }
}

void RenderPoolMetrics(const MachineManager& machines, MetricsText& out) {
  const std::vector<PoolStatus> pools = machines.Pools();
  struct Figure {
    const char* name;
    const char* help;
    uint64_t (*value)(const PoolStatus&);
  };
  static constexpr Figure kFigures[] = {
      {"autovibe_pool_machines", "Machines of the pool not terminated or failed.",
       [](const PoolStatus& p) { return uint64_t{p.live}; }},
      {"autovibe_pool_starting_machines", "Machines of the pool still provisioning or booting.",
       [](const PoolStatus& p) { return uint64_t{p.starting}; }},
      {"autovibe_pool_min_machines", "The pool's min from the config.",
       [](const PoolStatus& p) { return uint64_t{p.pool->min}; }},
      {"autovibe_pool_max_machines", "The pool's max from the config.",
       [](const PoolStatus& p) { return uint64_t{p.pool->max}; }},
  };
  for (const Figure& f : kFigures) {
    out.Family(f.name, "gauge", f.help);
    for (const PoolStatus& p : pools) {
      out.Sample(f.name, {{"pool", p.pool->name}, {"backend", p.pool->backend}}, f.value(p));
    }
  }
  const SpawnCounters& c = machines.spawn_counters();
  out.Family("autovibe_machine_spawns_total", "counter",
             "Machines the controller asked a backend for, by pool and backend.");
  for (const auto& [key, n] : c.started) {
    out.Sample("autovibe_machine_spawns_total", {{"pool", key.first}, {"backend", key.second}}, n);
  }
  out.Family("autovibe_machine_spawn_failures_total", "counter",
             "Spawns that failed: the backend could not create the machine, or its agent never "
             "registered.");
  for (const auto& [key, n] : c.failed) {
    out.Sample("autovibe_machine_spawn_failures_total",
               {{"pool", key.first}, {"backend", key.second}}, n);
  }
  out.Family("autovibe_machine_spawn_seconds", "histogram",
             "From a spawn to its agent registering, by backend.");
  for (const auto& [backend, h] : c.seconds) {
    out.Histogram("autovibe_machine_spawn_seconds", {{"backend", backend}}, h);
  }
}

}  // namespace autovibe
