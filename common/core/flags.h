// Command-line handling shared by the daemons (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/config_file.h"
#include "common/core/result.h"

namespace autovibe {

// Parses argv into `app`'s options. Returns the exit code when the program should stop now:
// 0 after --help or --version, non-zero after a usage error (CLI11 has printed it).
inline std::optional<int> ParseFlags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

// Loads the TOML file named by --config, if one was given, with `load`.
template <class Load>
Result<void> LoadConfigFlag(const std::string& config_file, Load load) {
  if (config_file.empty()) return {};
  return LoadConfigFile(config_file, load);
}

// Prints "<program>: <message>" on stderr; returns 2, the exit code for bad settings.
int ReportConfigError(std::string_view program, const Error& e);

}  // namespace autovibe
