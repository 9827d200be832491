// The admin API token: written to <data-dir>/admin.token (mode 0600) on first start.
#pragma once

#include <string>

#include "common/core/result.h"

namespace autovibe {

// Reads the token file, creating it with a fresh random token if it does not exist.
// Refuses a token file that others can read (mode wider than 0600) or that is empty.
Result<std::string> LoadOrCreateAdminToken(const std::string& data_dir);

}  // namespace autovibe
