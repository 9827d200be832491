// The agent's [meter] settings for pricing and hang-ups: read, defaulted and checked.
#include "worker-agent/meter/meter_config.h"

#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"

namespace autovibe::meter {
namespace {

Result<MeterConfig> Read(std::string_view toml_text) {
  MeterConfig c;
  toml::table t = toml::parse(toml_text);
  if (auto r = TomlMeterConfig(*t.get("meter"), c); !r) return r.error();
  if (auto r = ValidateMeterConfig(c, {}); !r) return r.error();
  return c;
}

TEST_CASE("meter config: unpriced models and the drain time", "[meter]") {
  MeterConfig defaults;
  CHECK_FALSE(defaults.allow_unpriced_models);
  CHECK(defaults.drain_timeout == std::chrono::minutes(5));

  auto c = Read("[meter]\nallow_unpriced_models = true\ndrain_timeout = \"90s\"\n");
  REQUIRE(c);
  CHECK(c->allow_unpriced_models);
  CHECK(c->drain_timeout == std::chrono::seconds(90));

  for (const char* bad :
       {"[meter]\nallow_unpriced_models = \"yes\"\n", "[meter]\ndrain_timeout = \"0s\"\n",
        "[meter]\ndrain_timeout = \"2h\"\n", "[meter]\ndrain_timeout = 5\n"}) {
    INFO(bad);
    auto r = Read(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
    CHECK_THAT(r.error().message, Catch::Contains("meter."));
  }
}

}  // namespace
}  // namespace autovibe::meter
