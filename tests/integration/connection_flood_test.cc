// Both HTTP servers held under 2,000 half-sent requests (slowloris) from several loopback
// addresses (and, for the metering proxy, which counts them per user, several users): the
// controller's /healthz and the agent's metering proxy still answer within 100 ms, with their
// connection caps and head deadlines at their defaults, and when the caps are lower than the
// flood (the longest-waiting heads are closed to make room; one user's beyond its allowance
// are refused). A request without its token is refused on its head, before its body is read.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/fleet_harness.h"
#include "tests/support/half_sent.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"
#include "worker-agent/meter/proxy.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kFlood = 2000;
// 8 addresses x 250: under the default per-client cap (512 on the controller); on the proxy,
// 8 users x 250, under its cap per user (meter::kConnectionsPerUser, 256).
constexpr int kSources = 8;
const std::vector<uid_t> kUsers = {61001, 61002, 61003, 61004, 61005, 61006, 61007, 61008};

// The median of `n` timed GETs of `path` from 127.0.0.1; each must answer 200.
double MedianGetMs(uint16_t port, const std::string& path, int n = 5) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    TimedAnswer a = TimedGet(port, path, 5s);
    CHECK(a.status == 200);
    ms.push_back(a.ms);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("the controller answers /healthz within 100 ms under 2,000 half-sent requests",
          "[flood]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  std::vector<std::string> args;
  int cap = 0;
  SECTION("default caps: every half-sent request is held") { cap = 0; }
  SECTION("a cap below the flood: the longest-waiting heads make room") {
    cap = 500;
    WriteFile(dir / "controller.toml", "http_max_connections = 500\n");
    args = {"--config", dir / "controller.toml"};
  }
  ControllerProcess controller(dir / "controller", nats.url(), args);
  HalfSentRequests flood(controller.port(), kFlood, kSources,
                         "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bea");
  if (cap == 0) {
    CHECK(WaitUntil([&] { return flood.StillOpen() == kFlood; }, 10s));
  } else {
    CHECK(WaitUntil([&] { return flood.StillOpen() <= cap; }, 10s));
    CHECK(flood.Open(kFlood - 1));  // the newest wait on
  }
  CHECK(MedianGetMs(controller.port(), "/healthz") < 100);
  // The API itself is served too, and a request without a token is refused on its head: the
  // body it announces never comes, and the 401 does not wait for it.
  CHECK(controller.Call("GET", "/v1/machines")->status == 200);
  TimedAnswer refused = TimedRequest(
      controller.port(),
      "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500000\r\n\r\n", 10s);
  CHECK(refused.status == 401);
  CHECK(refused.ms < 2000);
  CHECK(controller.process().Running());
}

TEST_CASE("the metering proxy answers within 100 ms under 2,000 half-sent requests", "[flood]") {
  if (geteuid() != 0) {
    WARN("needs root, to connect as other users");
    return;
  }
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  const uint16_t proxy_port = FreePort();
  WriteFile(dir / "agent.toml",
            "[meter]\nlisten = \"127.0.0.1:" + std::to_string(proxy_port) + "\"\n");
  AgentProcess agent("flooded", dir / "agent", nats.url(),
                     {"--config", dir / "agent.toml", "--upstream", "anthropic=mock"});
  REQUIRE(WaitUntil([&] { return PortOpen(proxy_port); }, 20s));
  const std::string partial = "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: av-";
  SECTION("from 8 users: every half-sent request is held") {
    HalfSentRequests flood(proxy_port, kFlood, kSources, partial, kUsers);
    CHECK(WaitUntil([&] { return flood.StillOpen() == kFlood; }, 10s));
    CHECK(MedianGetMs(proxy_port, "/") < 100);
  }
  SECTION("from one user: its allowance is held, the rest refused, other users answered") {
    HalfSentRequests flood(proxy_port, kFlood, kSources, partial, {kUsers[0]});
    CHECK(WaitUntil([&] { return flood.StillOpen() == int(meter::kConnectionsPerUser); }, 10s));
    CHECK(flood.Open(0));  // the first made wait on
    CHECK(MedianGetMs(proxy_port, "/") < 100);
  }
  // A call with no task's token is refused on its head, in the provider's shape.
  TimedAnswer refused = TimedRequest(proxy_port,
                                     "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "x-api-key: not-a-task\r\nContent-Length: 500000\r\n\r\n",
                                     10s);
  CHECK(refused.status == 401);
  CHECK_THAT(refused.text, Catch::Contains("authentication_error"));
  CHECK(refused.ms < 2000);
  CHECK(agent.process().Running());
}
