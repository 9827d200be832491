// Helpers shared by the daemons' TOML config loaders.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe {

// Parses TOML and hands each top-level key to `on_key`, stopping at the first error. A
// parse error names the line.
Result<void> ForEachTomlKey(
    std::string_view toml_text,
    const std::function<Result<void>(std::string_view key, const toml::node& node)>& on_key);

// Reads the file at `path` and loads it with `load`; errors are prefixed with the path.
Result<void> LoadConfigFile(const std::string& path,
                            const std::function<Result<void>(std::string_view text)>& load);

Result<void> TomlString(const toml::node& n, std::string_view key, std::string& out);
// A whole number: an integer, or a float that is one (5.0). Nothing for anything else,
// a float beyond int64's range included (toml++'s value<int64_t>() casts those unchecked,
// which is undefined behaviour).
std::optional<int64_t> TomlWholeNumber(const toml::node& n);
Result<void> TomlDuration(const toml::node& n, std::string_view key, Duration& out);
// A table of string values, e.g. [labels].
Result<void> TomlStringTable(const toml::node& n, std::string_view key,
                             std::map<std::string, std::string>& out);

Error UnknownKey(std::string_view key);

// Flags override the file: copies `flag` into `target` when the flag was given.
inline void Override(std::string& target, const std::string& flag) {
  if (!flag.empty()) target = flag;
}

}  // namespace autovibe
