#include "controller/store/migrations.h"

#include <string>

namespace autovibe {
namespace {

constexpr Migration kMigrations[] = {
    {1, "machines and events", R"sql(
CREATE TABLE machines (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE,
  backend          TEXT NOT NULL DEFAULT 'manual',
  state            TEXT NOT NULL,
  labels_json      TEXT NOT NULL DEFAULT '{}',
  tools_json       TEXT NOT NULL DEFAULT '[]',
  cpu_cores        INTEGER NOT NULL DEFAULT 0,
  mem_total_bytes  INTEGER NOT NULL DEFAULT 0,
  mem_used_bytes   INTEGER NOT NULL DEFAULT 0,
  disk_total_bytes INTEGER NOT NULL DEFAULT 0,
  disk_free_bytes  INTEGER NOT NULL DEFAULT 0,
  load1            REAL NOT NULL DEFAULT 0,
  agent_version    TEXT NOT NULL DEFAULT '',
  last_heartbeat_at INTEGER NOT NULL DEFAULT 0,
  registered_at    INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL
);
CREATE TABLE events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  machine_id TEXT REFERENCES machines(id) ON DELETE CASCADE,
  detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_machine ON events(machine_id, seq);
)sql"},
    {2, "agent events applied once", R"sql(
CREATE TABLE applied_agent_events (
  event_id   TEXT PRIMARY KEY,
  applied_at INTEGER NOT NULL
);
)sql"},
    {3, "projects, tasks and task logs", R"sql(
CREATE TABLE projects (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE tasks (
  id             TEXT PRIMARY KEY,
  seq            INTEGER NOT NULL UNIQUE,
  project        TEXT NOT NULL REFERENCES projects(name),
  spec_json      TEXT NOT NULL,
  state          TEXT NOT NULL,
  machine_id     TEXT NOT NULL DEFAULT '',
  attempts       INTEGER NOT NULL DEFAULT 0,
  exit_code      INTEGER,
  signal         INTEGER NOT NULL DEFAULT 0,
  reason         TEXT NOT NULL DEFAULT '',
  report_json    TEXT NOT NULL DEFAULT '{}',
  last_log       TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  assigned_at    INTEGER NOT NULL DEFAULT 0,
  started_at     INTEGER NOT NULL DEFAULT 0,
  finished_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_project ON tasks(project, seq);
CREATE TABLE task_logs (
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  seq     INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  stream  TEXT NOT NULL,
  data    BLOB NOT NULL,
  at      INTEGER NOT NULL,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
ALTER TABLE events ADD COLUMN task_id TEXT;
ALTER TABLE machines ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN task_slots INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_task ON events(task_id, seq) WHERE task_id IS NOT NULL;
)sql"},
    {4, "budgets, usage records, leases and alerts", R"sql(
CREATE TABLE budgets (
  project      TEXT NOT NULL REFERENCES projects(name),
  resource     TEXT NOT NULL,
  period       TEXT NOT NULL,
  limit_amount INTEGER NOT NULL,
  alert_at     TEXT NOT NULL DEFAULT '[75,90]',
  on_exhaust   TEXT NOT NULL DEFAULT 'pause',
  exhausted_period_start INTEGER,
  PRIMARY KEY (project, resource, period)
) WITHOUT ROWID;
CREATE TABLE usage_records (
  event_id           TEXT PRIMARY KEY,
  at_ms              INTEGER NOT NULL,
  project            TEXT NOT NULL,
  task_id            TEXT NOT NULL DEFAULT '',
  attempt            INTEGER NOT NULL DEFAULT 0,
  machine_id         TEXT NOT NULL DEFAULT '',
  lease_id           TEXT NOT NULL DEFAULT '',
  kind               TEXT NOT NULL DEFAULT '',
  provider           TEXT NOT NULL DEFAULT '',
  model              TEXT NOT NULL DEFAULT '',
  route              TEXT NOT NULL DEFAULT '',
  input_tokens       INTEGER NOT NULL DEFAULT 0,
  output_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
  cost_micros        INTEGER NOT NULL DEFAULT 0,
  task_ms            INTEGER NOT NULL DEFAULT 0,
  machine_ms         INTEGER NOT NULL DEFAULT 0,
  latency_us         INTEGER NOT NULL DEFAULT 0,
  http_status        INTEGER NOT NULL DEFAULT 0,
  status             TEXT NOT NULL DEFAULT '',
  estimated          INTEGER NOT NULL DEFAULT 0,
  api_calls          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_records_project ON usage_records(project, at_ms);
CREATE INDEX usage_records_task ON usage_records(task_id);
CREATE TABLE leases (
  id                 TEXT PRIMARY KEY,
  project            TEXT NOT NULL,
  task_id            TEXT NOT NULL,
  attempt            INTEGER NOT NULL,
  machine_id         TEXT NOT NULL,
  granted_usd_micros INTEGER NOT NULL DEFAULT 0,
  granted_tokens     INTEGER NOT NULL DEFAULT 0,
  granted_api_calls  INTEGER NOT NULL DEFAULT 0,
  granted_task_ms    INTEGER NOT NULL DEFAULT 0,
  granted_machine_ms INTEGER NOT NULL DEFAULT 0,
  settled_usd_micros INTEGER NOT NULL DEFAULT 0,
  settled_tokens     INTEGER NOT NULL DEFAULT 0,
  settled_api_calls  INTEGER NOT NULL DEFAULT 0,
  settled_task_ms    INTEGER NOT NULL DEFAULT 0,
  settled_machine_ms INTEGER NOT NULL DEFAULT 0,
  final_usd_micros   INTEGER NOT NULL DEFAULT 0,
  final_tokens       INTEGER NOT NULL DEFAULT 0,
  final_api_calls    INTEGER NOT NULL DEFAULT 0,
  final_task_ms      INTEGER NOT NULL DEFAULT 0,
  final_machine_ms   INTEGER NOT NULL DEFAULT 0,
  closed             INTEGER NOT NULL DEFAULT 0,
  expires_at_ms      INTEGER NOT NULL DEFAULT 0,
  created_at_ms      INTEGER NOT NULL
);
CREATE TABLE alerts (
  project         TEXT NOT NULL,
  resource        TEXT NOT NULL,
  period          TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  threshold       INTEGER NOT NULL,
  spent           INTEGER NOT NULL,
  limit_amount    INTEGER NOT NULL,
  at_ms           INTEGER NOT NULL,
  PRIMARY KEY (project, resource, period, period_start_ms, threshold)
) WITHOUT ROWID;
CREATE INDEX alerts_at ON alerts(at_ms);
)sql"},
    {5, "project emergency stop", R"sql(
ALTER TABLE projects ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;
)sql"},
    {6, "checkpoint catalogue", R"sql(
CREATE TABLE checkpoints (
  id            TEXT PRIMARY KEY,
  machine_id    TEXT NOT NULL,
  task_id       TEXT NOT NULL DEFAULT '',
  attempt       INTEGER NOT NULL DEFAULT 0,
  parent        TEXT NOT NULL DEFAULT '',
  trigger_kind  TEXT NOT NULL,
  label         TEXT NOT NULL DEFAULT '',
  workspace     TEXT NOT NULL DEFAULT '',
  files         INTEGER NOT NULL DEFAULT 0,
  bytes         INTEGER NOT NULL DEFAULT 0,
  stored_bytes  INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  verified_at   INTEGER NOT NULL DEFAULT 0,
  copies_json   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX checkpoints_task ON checkpoints(task_id, created_at);
)sql"},
    {7, "checkpoint root trees", R"sql(
ALTER TABLE checkpoints ADD COLUMN root TEXT NOT NULL DEFAULT '';
)sql"},
    {8, "provisioned machines and machine checkpoints", R"sql(
ALTER TABLE machines ADD COLUMN pool TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN instance TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN spawned_from TEXT NOT NULL DEFAULT '';
CREATE TABLE machine_checkpoints (
  id          TEXT PRIMARY KEY,
  machine_id  TEXT NOT NULL,
  pool        TEXT NOT NULL,
  backend     TEXT NOT NULL,
  ref         TEXT NOT NULL,
  state       TEXT NOT NULL,
  error       TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);
CREATE TABLE machine_credentials (
  machine_id  TEXT PRIMARY KEY,
  password    TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
)sql"},
    {9, "checkpoints in order of receipt, applied event ids by age", R"sql(
ALTER TABLE checkpoints ADD COLUMN received_seq INTEGER NOT NULL DEFAULT 0;
UPDATE checkpoints SET received_seq = r.n FROM
  (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM checkpoints) AS r
  WHERE r.id = checkpoints.id;
CREATE INDEX applied_agent_events_at ON applied_agent_events(applied_at);
)sql"},
    {10, "estimated charges of calls in flight and their corrections", R"sql(
ALTER TABLE leases ADD COLUMN held_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE usage_records ADD COLUMN corrected_at_ms INTEGER;
ALTER TABLE usage_records ADD COLUMN estimate_cost_micros INTEGER NOT NULL DEFAULT 0;
)sql"},
    {11, "one-time join tokens", R"sql(
CREATE TABLE join_tokens (
  id          TEXT PRIMARY KEY,
  secret      TEXT NOT NULL,
  pool        TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER NOT NULL DEFAULT 0,
  machine_id  TEXT NOT NULL DEFAULT ''
);
)sql"},
    {12, "the default repository of a project", R"sql(
ALTER TABLE projects ADD COLUMN repo_json TEXT NOT NULL DEFAULT '';
)sql"},
    {13, "API tokens with roles and project scopes", R"sql(
CREATE TABLE api_tokens (
  name          TEXT PRIMARY KEY,
  role          TEXT NOT NULL,
  projects_json TEXT NOT NULL DEFAULT '[]',
  hash          TEXT NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL DEFAULT 0,
  last_used_at  INTEGER NOT NULL DEFAULT 0
);
)sql"},
    {14, "webhook subscriptions and their deliveries", R"sql(
CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  url         TEXT NOT NULL,
  kinds_json  TEXT NOT NULL,
  project     TEXT NOT NULL DEFAULT '',
  format      TEXT NOT NULL DEFAULT 'json',
  secret      TEXT NOT NULL,
  ca_pem      TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_key       TEXT NOT NULL,
  kind            TEXT NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  attempts_json   TEXT NOT NULL DEFAULT '[]',
  created_at      INTEGER NOT NULL,
  UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries(webhook_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(state) WHERE state = 'pending';
)sql"},
    {15, "the audit log: hash-chained, append-only, pruned only behind its anchor", R"sql(
CREATE TABLE audit_log (
  seq            INTEGER PRIMARY KEY,
  at_ms          INTEGER NOT NULL,
  actor          TEXT NOT NULL,
  action         TEXT NOT NULL,
  object_kind    TEXT NOT NULL DEFAULT '',
  object_id      TEXT NOT NULL DEFAULT '',
  project        TEXT NOT NULL DEFAULT '',
  remote_address TEXT NOT NULL DEFAULT '',
  status         INTEGER NOT NULL DEFAULT 0,
  result         TEXT NOT NULL,
  error          TEXT NOT NULL DEFAULT '',
  details        TEXT NOT NULL DEFAULT '{}',
  prev_hash      TEXT NOT NULL,
  hash           TEXT NOT NULL
);
CREATE TABLE audit_anchor (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  seq     INTEGER NOT NULL,
  hash    TEXT NOT NULL,
  at_ms   INTEGER NOT NULL,
  removed INTEGER NOT NULL
);
INSERT INTO audit_anchor(id, seq, hash, at_ms, removed) VALUES (1, 0, '', 0, 0);
CREATE INDEX audit_log_actor ON audit_log(actor, seq);
CREATE INDEX audit_log_project ON audit_log(project, seq);
CREATE INDEX audit_log_object ON audit_log(object_id, seq);
CREATE TRIGGER audit_log_append_only BEFORE INSERT ON audit_log
  WHEN NEW.seq <= COALESCE((SELECT MAX(seq) FROM audit_log), (SELECT seq FROM audit_anchor))
  BEGIN SELECT RAISE(ABORT, 'audit records are appended after the last one'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit records are never changed'); END;
CREATE TRIGGER audit_log_retention_only BEFORE DELETE ON audit_log
  WHEN OLD.seq > (SELECT seq FROM audit_anchor)
  BEGIN SELECT RAISE(ABORT, 'audit records are removed only by retention'); END;
CREATE TRIGGER audit_anchor_forward BEFORE UPDATE ON audit_anchor
  WHEN NEW.seq < OLD.seq OR NEW.id != OLD.id
  BEGIN SELECT RAISE(ABORT, 'the audit anchor only moves forward'); END;
CREATE TRIGGER audit_anchor_kept BEFORE DELETE ON audit_anchor
  BEGIN SELECT RAISE(ABORT, 'the audit anchor is never removed'); END;
)sql"},
    {16, "events name their project, for the filters and scopes of the live events stream", R"sql(
ALTER TABLE events ADD COLUMN project TEXT NOT NULL DEFAULT '';
CREATE INDEX events_project ON events(project, seq);
UPDATE events SET project = COALESCE((SELECT tasks.project FROM tasks
                                      WHERE tasks.id = events.task_id), '')
  WHERE task_id IS NOT NULL;
UPDATE events SET project = COALESCE(json_extract(detail, '$.project'), '')
  WHERE kind LIKE 'project.%' AND json_valid(detail);
)sql"},
};

Error SqlError(sqlite3* db, const std::string& what) {
  return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db));
}

Result<void> Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return MakeError(ErrorCode::kStore, what + ": " + msg);
  }
  return {};
}

}  // namespace

std::span<const Migration> AllMigrations() { return kMigrations; }

Result<int> SchemaVersion(sqlite3* db) {
  if (auto r =
          Exec(db,
               "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
               "create schema_migrations");
      !r) {
    return r.error();
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st,
                         nullptr) != SQLITE_OK) {
    return SqlError(db, "read schema version");
  }
  int version = 0;
  if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return version;
}

Result<int> Migrate(sqlite3* db, std::span<const Migration> migrations) {
  auto current = SchemaVersion(db);
  if (!current) return current.error();
  int latest = migrations.empty() ? 0 : migrations.back().version;
  if (*current > latest) {
    return MakeError(ErrorCode::kStore, "database schema version " + std::to_string(*current) +
                                            " is newer than this controller knows (" +
                                            std::to_string(latest) + "); upgrade the controller");
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    const std::string what = "migration " + std::to_string(m.version) + " (" + m.name + ")";
    if (auto r = Exec(db, "BEGIN IMMEDIATE", what); !r) return r.error();
    auto r = Exec(db, m.sql, what);
    if (r) {
      r = Exec(db,
               "INSERT INTO schema_migrations(version, name, applied_at) VALUES (" +
                   std::to_string(m.version) + ", '" + m.name + "', strftime('%s','now'))",
               what);
    }
    if (!r) {
      Exec(db, "ROLLBACK", what);
      return r.error();
    }
    if (auto c = Exec(db, "COMMIT", what); !c) return c.error();
    *current = m.version;
  }
  return *current;
}

}  // namespace autovibe
