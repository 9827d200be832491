// The SQLite implementation of TaskStore, on the connection the SqliteStore owns.
#pragma once

#include <sqlite3.h>

#include <memory>

#include "controller/store/store.h"

namespace autovibe {

// `db` must outlive the returned store.
std::unique_ptr<TaskStore> NewSqliteTaskStore(sqlite3* db);
// The checkpoint catalogue (sqlite_checkpoint_store.cc), on the same connection.
std::unique_ptr<CheckpointCatalogueStore> NewSqliteCheckpointStore(sqlite3* db);
// One-time join tokens (sqlite_join_token_store.cc), on the same connection.
std::unique_ptr<JoinTokenStore> NewSqliteJoinTokenStore(sqlite3* db);
// API tokens (sqlite_api_token_store.cc), on the same connection.
std::unique_ptr<ApiTokenStore> NewSqliteApiTokenStore(sqlite3* db);
// The audit log (sqlite_audit_store.cc), on the same connection.
std::unique_ptr<AuditStore> NewSqliteAuditStore(sqlite3* db);

}  // namespace autovibe
