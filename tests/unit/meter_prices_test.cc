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
cache_read = 0.000001
max_output_tokens = 64000
)",
                   "m");
  CHECK(p.input == 3'000'000);
  CHECK(p.output == 15'000'000);
  CHECK(p.cache_write == 3'750'000);
  CHECK(p.cache_read == 1);
  CHECK(p.max_output_tokens == 64000);

  // Decimals a double cannot hold exactly still come out exact.
  auto q = PriceOf("[models.\"q\"]\ninput = 0.1\noutput = 0.3\ncache_read = 0.075\n", "q");
  CHECK(q.input == 100'000);
  CHECK(q.output == 300'000);
  CHECK(q.cache_read == 75'000);
  CHECK(q.cache_write == q.input);  // defaults to the input price
  CHECK(q.max_output_tokens == 32'000);
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
  CHECK_THAT(ErrorOf("[default]\ninput = nan\noutput = 1\n"), Catch::Contains("default.input"));
}

TEST_CASE("prices: the longest entry a model name starts with prices it", "[meter]") {
  auto table = PriceTable::Parse(R"(
[models."claude-sonnet-4"]
input = 1
output = 1
[models."claude-sonnet-4-5"]
input = 2
output = 2
[models."gpt-4o"]
input = 3
output = 3
[models."gpt-4o-mini"]
input = 4
output = 4
)");
  REQUIRE(table);
  CHECK(table->Find("claude-sonnet-4-5")->input == 2'000'000);
  CHECK(table->Find("claude-sonnet-4-5-20250929")->input == 2'000'000);
  CHECK(table->Find("claude-sonnet-4-20250514")->input == 1'000'000);
  CHECK(table->Find("gpt-4o-2024-08-06")->input == 3'000'000);
  CHECK(table->Find("gpt-4o-mini-2024-07-18")->input == 4'000'000);
  // Nothing it starts with, and no default: refused, never free.
  for (std::string_view unknown : {"claude-sonnet", "gpt-4", "o3", ""}) {
    auto p = table->Find(unknown);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == ErrorCode::kUnknownModel);
  }
  CHECK_THAT(table->Find("llama-3").error().message, Catch::Contains("llama-3"));
}

TEST_CASE("prices: a default section prices any model not listed", "[meter]") {
  auto table = PriceTable::Parse(R"(
[default]
input = 15
output = 75
[models."cheap"]
input = 0.1
output = 0.2
)");
  REQUIRE(table);
  CHECK(table->Find("cheap-1")->input == 100'000);
  auto other = table->Find("some-new-model");
  REQUIRE(other);
  CHECK(other->input == 15'000'000);
  CHECK(other->output == 75'000'000);
}

TEST_CASE("prices: a call costs its tokens' worth rounded up to a micro-dollar", "[meter]") {
  ModelPrice p{
      .input = 3'000'000, .output = 15'000'000, .cache_write = 3'750'000, .cache_read = 300'000};
  // 1000 * 3 + 500 * 15 + 2000 * 3.75 + 10000 * 0.3 = 3000 + 7500 + 7500 + 3000 micro-dollars.
  CHECK(PriceTable::Cost(
            p, {.input = 1000, .output = 500, .cache_write = 2000, .cache_read = 10000}) == 21'000);
  CHECK(PriceTable::Cost(p, {.input = 1}) == 3);
  CHECK(PriceTable::Cost(p, {.cache_read = 1}) == 1);   // 0.3 micro-dollars
  CHECK(PriceTable::Cost(p, {.cache_read = 4}) == 2);   // 1.2
  CHECK(PriceTable::Cost(p, {.cache_read = 10}) == 3);  // exactly 3
  CHECK(PriceTable::Cost(p, {}) == 0);
  CHECK(PriceTable::Cost(p, {.input = -5, .output = 2}) == 30);
  // No overflow on absurd counts.
  ModelPrice dear{.input = 9'000'000'000'000'000, .output = 0};
  CHECK(PriceTable::Cost(dear, {.input = 9'000'000'000'000'000}) == INT64_MAX);
  CHECK(PriceTable::Cost({.input = 1'000'000}, {.input = 5'000'000'000'000}) == 5'000'000'000'000);
}

TEST_CASE("prices: the built-in table prices the current Anthropic and OpenAI models", "[meter]") {
  const PriceTable& t = PriceTable::BuiltIn();
  for (std::string_view m :
       {"claude-opus-4-1", "claude-opus-4", "claude-sonnet-4-5", "claude-sonnet-4",
        "claude-3-7-sonnet", "claude-haiku-4-5", "claude-3-5-haiku", "gpt-4.1", "gpt-4.1-mini",
        "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini", "gpt-5", "gpt-5-mini"}) {
    INFO(m);
    auto p = t.Find(m);
    REQUIRE(p);
    CHECK(p->input > 0);
    CHECK(p->output > p->input);
    CHECK(p->cache_read < p->input);
    CHECK(p->cache_write >= p->input);
    CHECK(p->max_output_tokens >= 8192);
  }
  auto sonnet = t.Find("claude-sonnet-4-5-20250929");
  REQUIRE(sonnet);
  CHECK(sonnet->input == 3'000'000);
  CHECK(sonnet->output == 15'000'000);
  CHECK(sonnet->cache_write == 3'750'000);
  CHECK(sonnet->cache_read == 300'000);
  CHECK(t.Find("claude-opus-4-1-20250805")->input == 15'000'000);
  CHECK(t.Find("gpt-4.1-nano-2025-04-14")->cache_read == 25'000);
  CHECK_FALSE(t.Find("not-a-model"));  // no default in the shipped file
}

}  // namespace
}  // namespace autovibe::meter
