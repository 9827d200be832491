// The agent's metering settings: the [meter] table of its config file (and a few flags).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/core/duration.h"
#include "common/core/result.h"

namespace autovibe::meter {

struct MeterConfig {
  std::string listen = "127.0.0.1:0";  // the proxy's address; port 0 picks a free one
  std::string prices_file;             // empty: the price table built into the agent
  // Where the real provider keys are read from; else the agent's ANTHROPIC_API_KEY and
  // OPENAI_API_KEY. Never passed to a tool.
  std::string anthropic_key_file;
  std::string openai_key_file;
  std::string ca_file;  // extra CA bundle for https upstreams
  // Per task; 0: no limit.
  uint32_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
  // After a budget refuses a call: how long the tool has to show the error before it is
  // stopped.
  Duration stop_delay = std::chrono::milliseconds(100);
  // A model with no price is let through, billed at the price table's highest rates (its
  // records say unpriced); by default it is refused.
  bool allow_unpriced_models = false;
  // After a tool hangs up, how long its answer is still read for the usage the provider bills.
  Duration drain_timeout = std::chrono::minutes(5);
  // A call whose worst case the budget cannot cover is sent with a lower output limit, down to
  // this many tokens, before the task is paused; 0: never lowered.
  int64_t min_output_tokens = 4096;
  // A messages call with at least this many bytes no earlier call of its task covers has its
  // input counted by the provider first, waiting at most count_tokens_timeout; 0: never.
  int64_t count_tokens_above = 32 << 10;
  Duration count_tokens_timeout = std::chrono::seconds(3);
  // What the "mock" upstream answers.
  std::string mock_text = "This is a canned reply from the autovibe mock upstream.";
  int64_t mock_input_tokens = 100;
  int64_t mock_output_tokens = 20;
  int64_t mock_cache_write_tokens = 0;
  int64_t mock_cache_read_tokens = 0;
};

// Reads the [meter] table (and its [meter.mock] table). Keys: listen, prices,
// anthropic_key_file, openai_key_file, ca_file, requests_per_minute, tokens_per_minute,
// stop_delay, allow_unpriced_models, drain_timeout, min_output_tokens,
// count_tokens_above, count_tokens_timeout; mock: text, input_tokens, output_tokens,
// cache_write_tokens, cache_read_tokens. Unknown keys are an error.
Result<void> TomlMeterConfig(const toml::node& node, MeterConfig& config);

// Checks the upstreams (anthropic/openai = http(s) URL or "mock") and the meter settings.
Result<void> ValidateMeterConfig(const MeterConfig& config,
                                 const std::map<std::string, std::string>& upstreams);

// "127.0.0.1:0" -> ("127.0.0.1", 0); nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> SplitListen(std::string_view text);

// An upstream URL as the proxy wants it: no trailing '/' and no trailing "/v1" (the proxy
// sends "/v1/..." paths).
std::string UpstreamBase(std::string url);

}  // namespace autovibe::meter
