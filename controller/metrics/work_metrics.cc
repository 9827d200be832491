// Tasks' timings and the checkpoints' catalogue, copies, restores and branches.
#include "controller/metrics/controller_metrics.h"

namespace autovibe {

void RenderTaskTimings(const TaskTimings& timings, MetricsText& out) {
  out.Family("autovibe_task_submit_to_running_seconds", "histogram",
             "From a task's submission to its tool's first start.");
  out.Histogram("autovibe_task_submit_to_running_seconds", {}, timings.submit_to_running());
  out.Family("autovibe_task_duration_seconds", "histogram",
             "From a task's last start to its end, by final state.");
  for (const auto& [state, h] : timings.durations()) {
    out.Histogram("autovibe_task_duration_seconds", {{"state", state}}, h);
  }
}

void RenderCheckpointMetrics(const CheckpointService& checkpoints, MetricsText& out) {
  uint64_t count = 0;
  uint64_t stored = 0;
  uint64_t copies = 0;
  for (const CheckpointRecord* c : checkpoints.List({})) {
    ++count;
    stored += c->stored_bytes;
    copies += c->copies.size();
  }
  out.Family("autovibe_checkpoints", "gauge", "Workspace checkpoints in the catalogue.");
  out.Sample("autovibe_checkpoints", count);
  out.Family("autovibe_checkpoint_copies", "gauge",
             "Copies of those held by machines' checkpoint stores.");
  out.Sample("autovibe_checkpoint_copies", copies);
  out.Family("autovibe_checkpoints_stored_bytes", "gauge",
             "Compressed bytes the catalogue's checkpoints added to the stores that took them.");
  out.Sample("autovibe_checkpoints_stored_bytes", stored);
  const CheckpointCounters& c = checkpoints.counters();
  out.Family("autovibe_checkpoints_taken_total", "counter",
             "Checkpoints machines took since the controller started, by trigger.");
  for (const auto& [trigger, n] : c.taken) {
    out.Sample("autovibe_checkpoints_taken_total", {{"trigger", trigger}}, n);
  }
  out.Family("autovibe_checkpoint_bytes_stored_total", "counter",
             "Compressed bytes those checkpoints added to their stores.");
  out.Sample("autovibe_checkpoint_bytes_stored_total", c.stored_bytes);
  out.Family("autovibe_checkpoint_transfers_total", "counter",
             "Copies of checkpoints between machines (branches, replicas), by result.");
  out.Sample("autovibe_checkpoint_transfers_total", {{"result", "ok"}}, c.transfers);
  out.Sample("autovibe_checkpoint_transfers_total", {{"result", "failed"}}, c.transfer_failures);
  out.Family("autovibe_checkpoint_bytes_transferred_total", "counter",
             "Compressed bytes sent between machines by those copies.");
  out.Sample("autovibe_checkpoint_bytes_transferred_total", c.transferred_bytes);
  out.Family("autovibe_checkpoint_restore_seconds", "histogram",
             "From asking a machine to restore a checkpoint to its answer (restores that "
             "succeeded).");
  out.Histogram("autovibe_checkpoint_restore_seconds", {}, c.restore_seconds);
  out.Family("autovibe_checkpoint_branch_seconds", "histogram",
             "How long a copy of a checkpoint onto another machine took (copies that arrived).");
  out.Histogram("autovibe_checkpoint_branch_seconds", {}, c.branch_seconds);
}

}  // namespace autovibe
