// Model prices (templates/prices.toml): US dollars per million tokens of each kind, turned into
// integer micro-dollars per call. An unknown model has no price, unless a default is set: it is
// never priced at zero.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe::meter {

// Per million tokens, in micro-dollars (so $3.00 per million tokens is 3,000,000).
struct ModelPrice {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_write = 0;
  int64_t cache_read = 0;
  int64_t max_output_tokens = 32'000;  // the worst case when a request sets no max_tokens
};

struct TokenCounts {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_write = 0;
  int64_t cache_read = 0;
  int64_t total() const { return input + output + cache_write + cache_read; }
};

class PriceTable {
 public:
  // Parses prices.toml. Fails with "bad_config" naming the bad entry.
  static Result<PriceTable> Parse(std::string_view toml_text);
  // The copy of templates/prices.toml built into the binary.
  static const PriceTable& BuiltIn();

  // The price of `model`: an exact entry, else the longest entry the model name starts with
  // ("claude-sonnet-4-5" prices "claude-sonnet-4-5-20250929"), else the default if one is
  // set. Fails with "unknown_model".
  Result<ModelPrice> Find(std::string_view model) const;

  // Cost in micro-dollars, rounded up (a call never costs less than its tokens' worth).
  static int64_t Cost(const ModelPrice& price, const TokenCounts& tokens);

 private:
  std::map<std::string, ModelPrice, std::less<>> models_;
  std::optional<ModelPrice> default_;
};

}  // namespace autovibe::meter
