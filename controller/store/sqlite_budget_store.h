// The SQLite implementation of BudgetStore, on the connection the SqliteStore owns.
#pragma once

#include <sqlite3.h>

#include <memory>

#include "controller/store/budget_store.h"

namespace autovibe {

// `db` must outlive the returned store.
std::unique_ptr<BudgetStore> NewSqliteBudgetStore(sqlite3* db);

}  // namespace autovibe
