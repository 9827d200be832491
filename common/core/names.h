// Checks for names that cross process boundaries: machine names, bus subject tokens, log levels.
#pragma once

#include <string_view>

namespace autovibe {

// 1-63 of [A-Za-z0-9._-], starting with a letter or digit.
bool ValidMachineName(std::string_view name);

// One NATS subject token: non-empty, no '.', '*', '>' or whitespace.
bool ValidSubjectToken(std::string_view token);

// trace, debug, info, warn, error.
bool ValidLogLevel(std::string_view level);

}  // namespace autovibe
