#include "common/core/config_file.h"

#include <cmath>
#include <iostream>

#include "common/core/files.h"
#include "common/core/flags.h"

namespace autovibe {

Result<void> ForEachTomlKey(
    std::string_view toml_text,
    const std::function<Result<void>(std::string_view key, const toml::node& node)>& on_key) {
  toml::table tbl;
  try {
    tbl = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kBadConfig, "not valid TOML: " + std::string(e.description()) +
                                                " at line " +
                                                std::to_string(e.source().begin.line));
  }
  for (auto& [key, node] : tbl) {
    if (auto r = on_key(key.str(), node); !r) return r;
  }
  return {};
}

Result<void> LoadConfigFile(const std::string& path,
                            const std::function<Result<void>(std::string_view text)>& load) {
  auto text = ReadFile(path);
  if (!text) return text.error();
  if (auto r = load(*text); !r)
    return MakeError(ErrorCode::kBadConfig, path + ": " + r.error().message);
  return {};
}

std::optional<int64_t> TomlWholeNumber(const toml::node& n) {
  if (auto i = n.value_exact<int64_t>()) return *i;
  auto d = n.value_exact<double>();
  // -2^63 and 2^63 are exact doubles: anything from the first up to (not including) the
  // second converts.
  if (!d || !std::isfinite(*d) || std::trunc(*d) != *d || *d < -0x1p63 || *d >= 0x1p63) {
    return std::nullopt;
  }
  return static_cast<int64_t>(*d);
}

Result<void> TomlString(const toml::node& n, std::string_view key, std::string& out) {
  auto v = n.value<std::string>();
  if (!v) return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a string");
  out = *v;
  return {};
}

Result<void> TomlDuration(const toml::node& n, std::string_view key, Duration& out) {
  auto v = n.value<std::string>();
  if (!v) {
    return MakeError(ErrorCode::kBadConfig,
                     std::string(key) + " must be a duration string like \"2s\"");
  }
  auto d = ParseDuration(*v);
  if (!d) return MakeError(ErrorCode::kBadConfig, std::string(key) + ": " + d.error().message);
  out = *d;
  return {};
}

Result<void> TomlStringTable(const toml::node& n, std::string_view key,
                             std::map<std::string, std::string>& out) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, std::string(key) + " must be a table");
  for (auto& [k, v] : *t) {
    auto s = v.value<std::string>();
    if (!s) {
      return MakeError(ErrorCode::kBadConfig,
                       std::string(key) + "." + std::string(k.str()) + " must be a string");
    }
    out[std::string(k.str())] = *s;
  }
  return {};
}

Error UnknownKey(std::string_view key) {
  return MakeError(ErrorCode::kBadConfig, "unknown config key \"" + std::string(key) + "\"");
}

int ReportConfigError(std::string_view program, const Error& e) {
  std::cerr << program << ": " << e.message << "\n";
  return 2;
}

}  // namespace autovibe
