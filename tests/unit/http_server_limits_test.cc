// The HTTP server (common/http/server.h) against clients that hold connections open without
// finishing their requests: caps per client and overall, the head's own deadline, and the
// token checked on the head before any body is read. Real loopback sockets.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "common/http/server.h"
#include "tests/support/half_sent.h"
#include "tests/support/process.h"
#include "tests/unit/http_server_fixture.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using testing::HalfSentRequests;
using testing::ServerUnderTest;
using testing::TimedGet;
using testing::TimedRequest;

constexpr char kPartialHead[] = "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le";

TEST_CASE("http server: a client over its connection cap is answered 503, others are served",
          "[http]") {
  ServerUnderTest server({.limits = {.max_connections = 100, .max_per_client = 3}});
  HalfSentRequests held(server.port(), 3, 1, kPartialHead);  // all from 127.0.0.2
  auto refused = TimedGet(server.port(), "/healthz", 5s, "127.0.0.2");
  CHECK(refused.status == 503);
  CHECK_THAT(refused.text,
             Catch::Contains("too many connections") && Catch::Contains("Retry-After: 1"));
  auto served = TimedGet(server.port(), "/healthz", 5s, "127.0.0.3");
  CHECK(served.status == 200);
  CHECK(held.StillOpen() == 3);
}

TEST_CASE("http server: when full, the head waiting longest is closed to make room", "[http]") {
  ServerUnderTest server({.limits = {.max_connections = 5, .max_per_client = 100}});
  HalfSentRequests held(server.port(), 5, 5, kPartialHead);
  REQUIRE(testing::WaitUntil([&] { return held.StillOpen() == 5; }, 5s));
  auto served = TimedGet(server.port(), "/healthz");
  CHECK(served.status == 200);
  // The first made is the one closed; the others wait on.
  CHECK(testing::WaitUntil([&] { return !held.Open(0); }, 5s));
  CHECK(held.StillOpen() == 4);
}

TEST_CASE("http server: a head not in within its deadline ends the connection", "[http]") {
  ServerUnderTest server({.header_timeout = 300ms, .idle_timeout = std::chrono::seconds(60)});
  const auto start = std::chrono::steady_clock::now();
  HalfSentRequests held(server.port(), 2, 1, kPartialHead);
  REQUIRE(testing::WaitUntil([&] { return held.StillOpen() == 0; }, 5s));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  // A whole request on a new connection is served as before.
  CHECK(TimedGet(server.port(), "/healthz").status == 200);
}

TEST_CASE("http server: a request without its token is refused before its body is read", "[http]") {
  ServerUnderTest server({.body_timeout = std::chrono::seconds(30)});
  // The body announced is never sent: the answer cannot have waited for it.
  auto refused = TimedRequest(server.port(),
                              "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n",
                              5s);
  CHECK(refused.status == 401);
  CHECK_THAT(refused.text, Catch::Contains("missing bearer token"));
  CHECK(refused.ms < 3000);
  CHECK(server.handled() == 0);
  // With the token the same request is read whole and handled.
  auto served = TimedRequest(server.port(),
                             "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                             "Authorization: Bearer good\r\nContent-Length: 2\r\n\r\n{}");
  CHECK(served.status == 200);
  CHECK(server.handled() == 1);
}

}  // namespace
}  // namespace autovibe
