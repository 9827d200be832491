#include "worker-agent/meter/meter_config.h"

#include <charconv>

#include "common/core/config_file.h"

namespace autovibe::meter {
namespace {

Result<void> TomlInt(const toml::node& n, const std::string& key, int64_t& out) {
  auto v = n.value_exact<int64_t>();
  if (!v || *v < 0)
    return MakeError(ErrorCode::kBadConfig, key + " must be a non-negative integer");
  out = *v;
  return {};
}

Result<void> TomlMock(const toml::node& node, MeterConfig& c) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, "meter.mock must be a table");
  for (auto& [k, v] : *t) {
    const std::string key = "meter.mock." + std::string(k.str());
    Result<void> r;
    if (k == "text") {
      r = TomlString(v, key, c.mock_text);
    } else if (k == "input_tokens") {
      r = TomlInt(v, key, c.mock_input_tokens);
    } else if (k == "output_tokens") {
      r = TomlInt(v, key, c.mock_output_tokens);
    } else if (k == "cache_write_tokens") {
      r = TomlInt(v, key, c.mock_cache_write_tokens);
    } else if (k == "cache_read_tokens") {
      r = TomlInt(v, key, c.mock_cache_read_tokens);
    } else {
      return UnknownKey(key);
    }
    if (!r) return r;
  }
  return {};
}

}  // namespace

std::optional<std::pair<std::string, uint16_t>> SplitListen(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view port = text.substr(colon + 1);
  unsigned n = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (ec != std::errc() || p != port.data() + port.size() || n > 65535) return std::nullopt;
  return std::pair{std::string(text.substr(0, colon)), static_cast<uint16_t>(n)};
}

Result<void> TomlMeterConfig(const toml::node& node, MeterConfig& c) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return MakeError(ErrorCode::kBadConfig, "meter must be a table");
  for (auto& [k, v] : *t) {
    const std::string key = "meter." + std::string(k.str());
    Result<void> r;
    int64_t n = 0;
    if (k == "listen") {
      r = TomlString(v, key, c.listen);
    } else if (k == "prices") {
      r = TomlString(v, key, c.prices_file);
    } else if (k == "anthropic_key_file") {
      r = TomlString(v, key, c.anthropic_key_file);
    } else if (k == "openai_key_file") {
      r = TomlString(v, key, c.openai_key_file);
    } else if (k == "ca_file") {
      r = TomlString(v, key, c.ca_file);
    } else if (k == "requests_per_minute") {
      r = TomlInt(v, key, n);
      c.requests_per_minute = static_cast<uint32_t>(std::min<int64_t>(n, UINT32_MAX));
    } else if (k == "tokens_per_minute") {
      r = TomlInt(v, key, n);
      c.tokens_per_minute = static_cast<uint64_t>(n);
    } else if (k == "stop_delay") {
      r = TomlDuration(v, key, c.stop_delay);
    } else if (k == "allow_unpriced_models") {
      auto b = v.value_exact<bool>();
      if (!b) return MakeError(ErrorCode::kBadConfig, key + " must be true or false");
      c.allow_unpriced_models = *b;
    } else if (k == "drain_timeout") {
      r = TomlDuration(v, key, c.drain_timeout);
    } else if (k == "min_output_tokens") {
      r = TomlInt(v, key, c.min_output_tokens);
    } else if (k == "count_tokens_above") {
      r = TomlInt(v, key, c.count_tokens_above);
    } else if (k == "count_tokens_timeout") {
      r = TomlDuration(v, key, c.count_tokens_timeout);
    } else if (k == "mock") {
      r = TomlMock(v, c);
    } else {
      return UnknownKey(key);
    }
    if (!r) return r;
  }
  return {};
}

Result<void> ValidateMeterConfig(const MeterConfig& c,
                                 const std::map<std::string, std::string>& upstreams) {
  for (const auto& [provider, url] : upstreams) {
    if (provider != "anthropic" && provider != "openai") {
      return MakeError(ErrorCode::kBadConfig, "unknown upstream provider \"" + provider +
                                                  "\": use anthropic or openai (--upstream)");
    }
    if (url != "mock" && !url.starts_with("http://") && !url.starts_with("https://")) {
      return MakeError(ErrorCode::kBadConfig,
                       "upstream " + provider +
                           " must be an http:// or https:// URL, or mock (got \"" + url + "\")");
    }
  }
  if (!SplitListen(c.listen)) {
    return MakeError(ErrorCode::kBadConfig,
                     "meter.listen must be HOST:PORT, got \"" + c.listen + "\"");
  }
  if (c.drain_timeout < std::chrono::seconds(1) || c.drain_timeout > std::chrono::hours(1)) {
    return MakeError(ErrorCode::kBadConfig, "meter.drain_timeout must be from 1s to 1h");
  }
  if (c.count_tokens_timeout > std::chrono::seconds(60)) {
    return MakeError(ErrorCode::kBadConfig, "meter.count_tokens_timeout must be at most 60s");
  }
  if (c.stop_delay > std::chrono::seconds(10)) {
    return MakeError(ErrorCode::kBadConfig, "meter.stop_delay must be at most 10s");
  }
  return {};
}

std::string UpstreamBase(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() > 3 && url.ends_with("/v1")) url.resize(url.size() - 3);
  return url;
}

}  // namespace autovibe::meter
