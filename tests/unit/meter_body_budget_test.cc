// The metering proxy holds only so many request bodies at once per client: a task sending many
// large requests together is answered 503 for those over its share, before their bodies are
// read, and its agent's memory stays bounded; once they are done, it is served again.
#include "tests/support/half_sent.h"
#include "tests/unit/meter_proxy_harness.h"
#include "worker-agent/meter/body_budget.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;

TEST_CASE("body budget: per client and in all, given back when done", "[meter]") {
  BodyBudget budget(100, 150);
  auto a = budget.Take("uid:1", 60);
  REQUIRE(a);
  CHECK_FALSE(budget.Take("uid:1", 50));  // over its own share
  auto b = budget.Take("uid:2", 80);
  REQUIRE(b);
  CHECK_FALSE(budget.Take("uid:3", 20));  // over the total
  b.reset();
  CHECK(budget.Take("uid:3", 20));
  CHECK(budget.held() == 60);
}

std::string Head(size_t length) {
  return "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " + std::string(kToken) +
         "\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
         "content-length: " +
         std::to_string(length) + "\r\n\r\n";
}

TEST_CASE("a task's large requests in flight at once are capped, the rest answered 503",
          "[meter]") {
  ProxyOptions o;
  o.upstreams["anthropic"] = {.url = "mock"};
  o.max_request_bytes = 4000;  // a client may hold four bodies of up to 4,000 bytes
  ProxyUnderTest proxy(o);
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":")" +
      std::string(3800, 'x') + R"("}]})";
  {
    // Four requests whose bodies are on their way, slowly.
    testing::HalfSentRequests slow(proxy.port(), 4, 4, Head(body.size()) + "{");
    const testing::TimedAnswer over = testing::TimedRequest(proxy.port(), Head(body.size()) + body);
    CHECK(over.status == 503);
    CHECK_THAT(over.text, Catch::Contains("too many large requests"));
    CHECK(slow.StillOpen() == 4);
  }
  // They are gone: the next one is served.
  int status = 0;
  CHECK(testing::WaitUntil(
      [&] {
        status = testing::TimedRequest(proxy.port(), Head(body.size()) + body).status;
        return status == 200;
      },
      10s));
  CHECK(status == 200);
}

}  // namespace
}  // namespace autovibe::meter
