// Model prices (templates/prices.toml): US dollars per million tokens of each kind, turned into
// integer micro-dollars per call, with the premiums providers charge on top of the plain rates:
// the 1-hour prompt cache, long prompts, priority and flex tiers, server-side web searches.
//
// A model is priced by its exact entry or by an alias its entry lists, never by a name it
// starts with ("gpt-5-pro" is not "gpt-5"). A model with no entry has no price: it is never
// priced at zero.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe::meter {

// Per million tokens, in micro-dollars (so $3.00 per million tokens is 3,000,000).
struct Rates {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_write = 0;     // a 5-minute prompt cache write (and OpenAI's, which is free)
  int64_t cache_write_1h = 0;  // a 1-hour prompt cache write
  int64_t cache_read = 0;
  // The dearest an input token can be, whichever way it is counted.
  int64_t dearest_input() const;
  friend bool operator==(const Rates&, const Rates&) = default;
};

// Each rate the dearer of the two.
Rates Dearest(const Rates& a, const Rates& b);

// The service tier a call is served at: Anthropic's usage.service_tier, OpenAI's service_tier.
enum class Tier { kStandard, kPriority, kFlex };

// "priority" -> kPriority, "flex" -> kFlex, anything else -> kStandard.
Tier TierNamed(std::string_view name);

struct LongContext {
  int64_t above_input_tokens = 0;  // a prompt (input + cache writes + reads) over this many
  Rates rates;                     // is billed at these rates, all of it
};

struct ModelPrice {
  Rates standard;
  std::optional<Rates> priority;  // unset: priority is billed at the standard rates
  std::optional<Rates> flex;      // unset: the model has no flex tier (standard rates)
  std::optional<LongContext> long_context;
  int64_t web_search_per_1000 = 0;  // micro-dollars per 1,000 server-side web searches
  // The most a call can answer when the request sets no limit; 0: unknown (such a request
  // cannot be bounded and is refused).
  int64_t max_output_tokens = 0;

  // The rates of a call served at `tier` whose prompt is `prompt_tokens` long. A long prompt
  // on a tier that has rates of its own pays the dearer of both.
  Rates RatesFor(Tier tier, int64_t prompt_tokens) const;
};

struct TokenCounts {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_write = 0;  // every cache write, 1-hour ones included
  int64_t cache_read = 0;
  int64_t cache_write_1h = 0;  // of cache_write, those to the 1-hour cache
  int64_t web_search_requests = 0;
  // Every token of the call (web searches are not tokens).
  int64_t total() const { return input + output + cache_write + cache_read; }
  // The prompt: what long-context pricing looks at.
  int64_t prompt() const { return input + cache_write + cache_read; }
};

class PriceTable {
 public:
  // Parses prices.toml. Fails with "bad_config" naming the bad entry.
  static Result<PriceTable> Parse(std::string_view toml_text);
  // The copy of templates/prices.toml built into the binary.
  static const PriceTable& BuiltIn();

  // The price of `model`: its entry, or the entry that lists it as an alias. Fails with
  // "unknown_model" naming the model.
  Result<ModelPrice> Find(std::string_view model) const;
  // The dearest of every rate and premium in the table, as one price (with max_output_tokens
  // unknown): what an unpriced model is billed at where that is allowed.
  const ModelPrice& Highest() const { return highest_; }

  // Cost in micro-dollars, rounded up (a call never costs less than its tokens' worth).
  static int64_t Cost(const ModelPrice& price, const TokenCounts& tokens,
                      Tier tier = Tier::kStandard);
  static int64_t Cost(const Rates& rates, int64_t web_search_per_1000, const TokenCounts& tokens);

 private:
  std::map<std::string, ModelPrice, std::less<>> models_;
  std::map<std::string, std::string, std::less<>> aliases_;  // alias -> entry
  ModelPrice highest_;
};

}  // namespace autovibe::meter
