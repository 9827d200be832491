// Error codes are one closed set, named only at the wire and HTTP edges, with the names older
// agents and clients know.
#include <catch2/catch.hpp>
#include <set>

#include "common/core/result.h"

using namespace autovibe;

TEST_CASE("every error code has one name on the wire, and the name reads back as the code",
          "[errors]") {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const std::string_view name = ErrorName(code);
    INFO(name);
    CHECK(names.insert(name).second);  // no two codes share a name
    REQUIRE(ParseErrorCode(name));
    CHECK(*ParseErrorCode(name) == code);
  }
  // The names the HTTP API and agents' replies have always used.
  CHECK(ErrorName(ErrorCode::kNotFound) == "not_found");
  CHECK(ErrorName(ErrorCode::kBadTask) == "bad_task");
  CHECK(ErrorName(ErrorCode::kUnauthorized) == "unauthorized");
}

TEST_CASE("spellings that drifted read as the one code they meant", "[errors]") {
  CHECK(ParseErrorCode("timed_out") == ErrorCode::kTimeout);
  CHECK(ParseErrorCode("invalid_request") == ErrorCode::kBadRequest);
  CHECK(ParseErrorCode("unreachable") == ErrorCode::kUnavailable);
  CHECK_FALSE(ParseErrorCode("no_such_code"));
  CHECK_FALSE(ParseErrorCode(""));
}
