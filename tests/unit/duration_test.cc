#include "common/core/duration.h"

#include <catch2/catch.hpp>

using autovibe::FormatDuration;
using autovibe::ParseDuration;
using namespace std::chrono_literals;

TEST_CASE("durations parse in every unit the docs use") {
  CHECK(*ParseDuration("500ms") == 500ms);
  CHECK(*ParseDuration("2s") == 2000ms);
  CHECK(*ParseDuration("30m") == 30min);
  CHECK(*ParseDuration("1h") == 1h);
  CHECK(*ParseDuration("1h30m") == 90min);
  CHECK(*ParseDuration("1d") == 24h);
  CHECK(*ParseDuration("0s") == 0ms);
}

TEST_CASE("bad durations are refused with a message naming the input") {
  for (const char* bad : {"", "10", "s", "5x", "-1s", "1.5s", "2 s", "1s ", "ms5",
                          "99999999999999999999s", "9223372036854775807h"}) {
    auto r = ParseDuration(bad);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == autovibe::ErrorCode::kBadRequest);
    CHECK(r.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("durations format back to their shortest spelling") {
  CHECK(FormatDuration(1500ms) == "1500ms");
  CHECK(FormatDuration(2000ms) == "2s");
  CHECK(FormatDuration(120000ms) == "2m");
  CHECK(FormatDuration(3600000ms) == "1h");
  CHECK(FormatDuration(0ms) == "0ms");
  for (std::chrono::milliseconds d : {10ms, 2000ms, 90000ms, 300000ms, 7200000ms}) {
    CHECK(*ParseDuration(FormatDuration(d)) == d);
  }
}
