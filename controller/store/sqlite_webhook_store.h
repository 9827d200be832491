// The SQLite implementation of WebhookStore, on the connection the SqliteStore owns.
#pragma once

#include <sqlite3.h>

#include <memory>

#include "controller/store/webhook_store.h"

namespace autovibe {

// `db` must outlive the returned store.
std::unique_ptr<WebhookStore> NewSqliteWebhookStore(sqlite3* db);

}  // namespace autovibe
