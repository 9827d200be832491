// The model price table: exact micro-dollar prices from prices.toml, refusals of bad
// entries, which entry prices a model, and the cost of a call rounded up.
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "worker-agent/meter/prices.h"

namespace autovibe::meter {
namespace {

ModelPrice PriceOf(std::string_view toml, std::string_view model) {
  auto table = PriceTable::Parse(toml);
  REQUIRE(table);
  auto price = table->Find(model);
  REQUIRE(price);
  return *price;
}

std::string ErrorOf(std::string_view toml) {
  auto table = PriceTable::Parse(toml);
  REQUIRE_FALSE(table);
  CHECK(table.error().code == ErrorCode::kBadConfig);
  return table.error().message;
}

TEST_CASE("prices: dollars per million tokens become exact micro-dollars", "[meter]") {
  auto p = PriceOf(R"(
[models."m"]
input = 3.00
output = 15
cache_write = 3.75
cache_write_1h = 6
cache_read = 0.000001
web_search_per_1000 = 10
max_output_tokens = 64000
)",
                   "m");
  CHECK(p.standard == Rates{.input = 3'000'000,
                            .output = 15'000'000,
                            .cache_write = 3'750'000,
                            .cache_write_1h = 6'000'000,
                            .cache_read = 1});
  CHECK(p.web_search_per_1000 == 10'000'000);
  CHECK(p.max_output_tokens == 64000);
  CHECK_FALSE(p.priority);
  CHECK_FALSE(p.long_context);

  // Decimals a double cannot hold exactly still come out exact; unset cache rates default.
  auto q = PriceOf("[models.\"q\"]\ninput = 0.1\noutput = 0.3\ncache_read = 0.075\n", "q");
  CHECK(q.standard.input == 100'000);
  CHECK(q.standard.output == 300'000);
  CHECK(q.standard.cache_read == 75'000);
  CHECK(q.standard.cache_write == q.standard.input);
  CHECK(q.standard.cache_write_1h == q.standard.cache_write);
  CHECK(q.max_output_tokens == 0);  // unknown: a request without a limit cannot be bounded
}

TEST_CASE("prices: tiers and long-context rates are read per model", "[meter]") {
  auto p = PriceOf(R"(
[models."m"]
input = 1.25
output = 10
cache_read = 0.125
[models."m".priority]
input = 2.5
output = 20
cache_read = 0.25
[models."m".flex]
input = 0.625
output = 5
[models."m".long_context]
above_input_tokens = 200000
input = 2.5
output = 15
)",
                   "m");
  REQUIRE(p.priority);
  CHECK(p.priority->output == 20'000'000);
  CHECK(p.priority->cache_write == 2'500'000);  // defaults to the tier's input
  REQUIRE(p.flex);
  CHECK(p.flex->cache_read == 625'000);
  REQUIRE(p.long_context);
  CHECK(p.long_context->above_input_tokens == 200'000);
  CHECK(p.RatesFor(Tier::kStandard, 200'000).input == 1'250'000);
  CHECK(p.RatesFor(Tier::kStandard, 200'001).input == 2'500'000);
  CHECK(p.RatesFor(Tier::kPriority, 10).output == 20'000'000);
  CHECK(p.RatesFor(Tier::kFlex, 10).output == 5'000'000);
  // A long prompt on priority pays the dearer of each rate.
  CHECK(p.RatesFor(Tier::kPriority, 300'000).output == 20'000'000);
  CHECK(TierNamed("priority") == Tier::kPriority);
  CHECK(TierNamed("flex") == Tier::kFlex);
  CHECK(TierNamed("default") == Tier::kStandard);
  CHECK(TierNamed("standard") == Tier::kStandard);
}

TEST_CASE("prices: bad entries are refused naming the entry", "[meter]") {
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1.0000001\noutput = 1\n"),
             Catch::Contains("models.\"m\".input") && Catch::Contains("six decimals"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = -1.5\noutput = 1\n"),
             Catch::Contains("models.\"m\".input"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = -2\noutput = 1\n"),
             Catch::Contains("models.\"m\".input"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = \"3\"\noutput = 1\n"),
             Catch::Contains("models.\"m\".input"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\noutput = 1\n"), Catch::Contains("input is missing"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\n"), Catch::Contains("output is missing"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\noutput = 1\ncache_reed = 1\n"),
             Catch::Contains("models.\"m\".cache_reed") && Catch::Contains("unknown key"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\noutput = 1\nmax_output_tokens = 0\n"),
             Catch::Contains("max_output_tokens"));
  CHECK_THAT(ErrorOf("[model.\"m\"]\ninput = 1\noutput = 1\n"), Catch::Contains("model"));
  CHECK_THAT(ErrorOf("[models\ninput = 1"), Catch::Contains("not valid TOML"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\noutput = 1\n[models.\"m\".priority]\ninput = 2\n"),
             Catch::Contains("models.\"m\".priority") && Catch::Contains("output is missing"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\noutput = 1\n[models.\"m\".long_context]\n"
                     "input = 2\noutput = 2\n"),
             Catch::Contains("above_input_tokens is missing"));
  CHECK_THAT(ErrorOf("[models.\"m\"]\ninput = 1\noutput = 1\naliases = \"m-1\"\n"),
             Catch::Contains("models.\"m\".aliases"));
  CHECK_THAT(ErrorOf("[models.\"a\"]\ninput = 1\noutput = 1\naliases = [\"x\"]\n"
                     "[models.\"b\"]\ninput = 1\noutput = 1\naliases = [\"x\"]\n"),
             Catch::Contains("\"x\" is already an alias of \"a\""));
  CHECK_THAT(ErrorOf("[models.\"a\"]\ninput = 1\noutput = 1\naliases = [\"b\"]\n"
                     "[models.\"b\"]\ninput = 2\noutput = 2\n"),
             Catch::Contains("\"b\" has an entry of its own"));
  // The old catch-all price is refused, saying what took its place.
  CHECK_THAT(ErrorOf("[default]\ninput = 15\noutput = 75\n"),
             Catch::Contains("allow_unpriced_models"));
}

TEST_CASE("prices: a model is priced by its exact name or a listed alias, never a prefix",
          "[meter]") {
  auto table = PriceTable::Parse(R"(
[models."gpt-5"]
aliases = ["gpt-5-2025-08-07"]
input = 1.25
output = 10
[models."gpt-5-pro"]
input = 15
output = 120
[models."claude-sonnet-4-5"]
aliases = ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5-latest"]
input = 3
output = 15
)");
  REQUIRE(table);
  CHECK(table->Find("gpt-5")->standard.input == 1'250'000);
  CHECK(table->Find("gpt-5-2025-08-07")->standard.input == 1'250'000);
  CHECK(table->Find("gpt-5-pro")->standard.output == 120'000'000);
  CHECK(table->Find("claude-sonnet-4-5-20250929")->standard.input == 3'000'000);
  CHECK(table->Find("claude-sonnet-4-5-latest")->standard.input == 3'000'000);
  // Names an entry starts, or that start an entry, are not it: refused, never cheap.
  for (std::string_view unknown : {"gpt-5-pro-2025-10-06", "gpt-5-mini", "gpt-5-codex",
                                   "claude-sonnet-4-5-20990101", "claude-sonnet", "gpt", ""}) {
    INFO(unknown);
    auto p = table->Find(unknown);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == ErrorCode::kUnknownModel);
  }
  CHECK_THAT(table->Find("llama-3").error().message,
             Catch::Contains("\"llama-3\"") && Catch::Contains("prices.toml"));
}

TEST_CASE("prices: the highest price is the dearest of every rate and premium", "[meter]") {
  auto table = PriceTable::Parse(R"(
[models."a"]
input = 3
output = 15
cache_write_1h = 6
web_search_per_1000 = 10
max_output_tokens = 64000
[models."a".long_context]
above_input_tokens = 200000
input = 6
output = 22.5
[models."b"]
input = 1.25
output = 10
[models."b".priority]
input = 2.5
output = 30
)");
  REQUIRE(table);
  const ModelPrice& h = table->Highest();
  CHECK(h.standard.input == 6'000'000);
  CHECK(h.standard.output == 30'000'000);
  CHECK(h.standard.cache_write_1h == 6'000'000);
  CHECK(h.web_search_per_1000 == 10'000'000);
  CHECK(h.max_output_tokens == 0);
  CHECK_FALSE(h.long_context);
}

TEST_CASE("prices: a call costs its tokens' worth rounded up to a micro-dollar", "[meter]") {
  ModelPrice p{.standard = {.input = 3'000'000,
                            .output = 15'000'000,
                            .cache_write = 3'750'000,
                            .cache_write_1h = 6'000'000,
                            .cache_read = 300'000},
               .web_search_per_1000 = 10'000'000};
  // 1000 * 3 + 500 * 15 + 2000 * 3.75 + 10000 * 0.3 = 3000 + 7500 + 7500 + 3000 micro-dollars.
  CHECK(PriceTable::Cost(
            p, {.input = 1000, .output = 500, .cache_write = 2000, .cache_read = 10000}) == 21'000);
  // Of 2000 cache writes, 500 to the 1-hour cache: 1500 x 3.75 + 500 x 6.
  CHECK(PriceTable::Cost(p, {.cache_write = 2000, .cache_write_1h = 500}) == 5625 + 3000);
  // Three searches at $10 per 1,000.
  CHECK(PriceTable::Cost(p, {.web_search_requests = 3}) == 30'000);
  CHECK(PriceTable::Cost(p, {.input = 1}) == 3);
  CHECK(PriceTable::Cost(p, {.cache_read = 1}) == 1);   // 0.3 micro-dollars
  CHECK(PriceTable::Cost(p, {.cache_read = 4}) == 2);   // 1.2
  CHECK(PriceTable::Cost(p, {.cache_read = 10}) == 3);  // exactly 3
  CHECK(PriceTable::Cost(p, {}) == 0);
  CHECK(PriceTable::Cost(p, {.input = -5, .output = 2}) == 30);
  // No overflow on absurd counts.
  ModelPrice dear{.standard = {.input = 9'000'000'000'000'000}};
  CHECK(PriceTable::Cost(dear, {.input = 9'000'000'000'000'000}) == INT64_MAX);
  CHECK(PriceTable::Cost(ModelPrice{.standard = {.input = 1'000'000}},
                         {.input = 5'000'000'000'000}) == 5'000'000'000'000);
  CHECK(PriceTable::Cost(p, {.web_search_requests = INT64_MAX}) > 0);
}

TEST_CASE("prices: the built-in table prices the coding tools' default models", "[meter]") {
  const PriceTable& t = PriceTable::BuiltIn();
  // Claude Code's defaults (Opus, Sonnet, Haiku) by name and dated id; Codex's gpt-5 family.
  for (std::string_view m :
       {"claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-haiku-4-5-20251001",
        "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-opus-4-20250514",
        "claude-3-7-sonnet-latest", "claude-3-5-haiku-latest", "gpt-5", "gpt-5-2025-08-07",
        "gpt-5-pro", "gpt-5-codex", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4o-mini", "o3",
        "o4-mini"}) {
    INFO(m);
    auto p = t.Find(m);
    REQUIRE(p);
    CHECK(p->standard.input > 0);
    CHECK(p->standard.output > p->standard.input);
    CHECK(p->standard.cache_read <= p->standard.input);
    CHECK(p->standard.cache_write_1h >= p->standard.cache_write);
    CHECK(p->standard.cache_write >= p->standard.input);
    CHECK(p->max_output_tokens >= 8192);
  }
  auto sonnet = t.Find("claude-sonnet-4-5-20250929");
  REQUIRE(sonnet);
  CHECK(sonnet->standard == Rates{.input = 3'000'000,
                                  .output = 15'000'000,
                                  .cache_write = 3'750'000,
                                  .cache_write_1h = 6'000'000,
                                  .cache_read = 300'000});
  CHECK(sonnet->web_search_per_1000 == 10'000'000);
  REQUIRE(sonnet->long_context);
  CHECK(sonnet->long_context->rates.input == 6'000'000);
  CHECK(sonnet->long_context->rates.output == 22'500'000);
  CHECK(t.Find("claude-opus-4-8")->standard.output == 25'000'000);
  CHECK(t.Find("claude-opus-4-1")->standard.input == 15'000'000);
  // gpt-5-pro is its own model, not gpt-5 by prefix.
  CHECK(t.Find("gpt-5-pro")->standard.output == 120'000'000);
  CHECK(t.Find("gpt-5")->standard.output == 10'000'000);
  CHECK(t.Find("gpt-5")->priority->output == 20'000'000);
  CHECK(t.Find("gpt-5-mini")->flex->input == 125'000);
  CHECK(t.Find("gpt-4.1-nano-2025-04-14")->standard.cache_read == 25'000);
  CHECK_FALSE(t.Find("not-a-model"));
  CHECK_FALSE(t.Find("gpt-5-pro-max"));
}

}  // namespace
}  // namespace autovibe::meter
