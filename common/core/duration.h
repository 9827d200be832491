// Durations as written in flags and config files: "500ms", "2s", "30m", "1h", "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

using Duration = std::chrono::milliseconds;

// Parses a duration. A bare number is refused (the unit is never guessed).
Result<Duration> ParseDuration(std::string_view text);

// The shortest exact spelling: 1500ms -> "1500ms", 120000ms -> "2m".
std::string FormatDuration(Duration d);

}  // namespace autovibe
