// Numbered schema migrations. Each runs once, in order, inside a transaction; the applied
// versions are recorded in `schema_migrations`. Never edit a released migration: add one.
#pragma once

#include <sqlite3.h>

#include <span>

#include "common/core/result.h"

namespace autovibe {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

std::span<const Migration> AllMigrations();

// Brings the database to the latest version. Refuses a database written by a newer
// controller (a version this binary does not know). Returns the version reached.
Result<int> Migrate(sqlite3* db, std::span<const Migration> migrations = AllMigrations());

// The highest applied version, 0 for an empty database.
Result<int> SchemaVersion(sqlite3* db);

}  // namespace autovibe
