// POST /v1/machines/join-tokens (controller/api/join_tokens_api.h) over a real store.
#include "controller/api/join_tokens_api.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "tests/unit/join_tokens_fixture.h"

using namespace autovibe;
using autovibe::testing::ManualClock;
namespace json = boost::json;

namespace {

HttpRequest Post(std::string body) {
  return HttpRequest{.method = "POST",
                     .target = "/v1/machines/join-tokens",
                     .path = "/v1/machines/join-tokens",
                     .content_type = "application/json",
                     .body = std::move(body)};
}

}  // namespace

TEST_CASE("join tokens over the API: shown once, bad input makes none", "[join]") {
  testing::JoinTokensFixture t;
  JoinTokens& tokens = t.tokens;
  ManualClock& clock = t.clock;
  int commits = 0;
  JoinTokensApi api({&tokens, [&] {
                       ++commits;
                       return Result<void>();
                     }});
  std::string route;

  HttpResponse made = api.Route(Post(R"({"pool":"kvm","ttl":"30m"})"), route);
  REQUIRE(made.status == 201);
  CHECK(route == "/v1/machines/join-tokens");
  CHECK(commits == 1);
  json::object o = json::parse(made.body).as_object();
  const std::string id(o.at("id").as_string());
  CHECK(std::string(o.at("token").as_string()).starts_with(id + "."));
  CHECK(o.at("pool").as_string() == "kvm");
  CHECK(o.at("expires_at").as_string() == FormatRfc3339(clock.now + 30 * 60'000));
  CHECK(api.Route(Post(""), route).status == 201);  // no body: no pool, the default ttl

  for (const char* bad :
       {R"({"ttl":"soon"})", R"({"ttl":"0s"})", R"({"ttl":"-5m"})", R"({"pool":"no spaces"})",
        R"({"pool":7})", R"({"owner":"me"})", "not json"}) {
    INFO(bad);
    HttpResponse r = api.Route(Post(bad), route);
    CHECK(r.status == 400);
  }
  CHECK(tokens.live() == 2);
  HttpRequest get = Post("");
  get.method = "GET";
  CHECK(api.Route(get, route).status == 405);

  JoinTokensApi insecure({nullptr, [] { return Result<void>(); }});
  HttpResponse refused = insecure.Route(Post("{}"), route);
  CHECK(refused.status == 409);
  CHECK_THAT(refused.body, Catch::Contains("--insecure-bus"));
}
