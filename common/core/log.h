// Structured log lines on stderr: `2026-11-22T01:02:03.456Z info fleet machine registered id=m-..
// name=..`.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace autovibe {

// Sets up the process-wide logger: stderr, one line per record, UTC timestamps.
// `level` is one of trace, debug, info, warn, error. Safe to call more than once.
void InitLogging(std::string_view program, std::string_view level = "info");

}  // namespace autovibe
