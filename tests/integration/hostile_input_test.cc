// Garbage on the bus and on the API changes nothing and crashes nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <random>

#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;

namespace {

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Sends raw bytes to the HTTP port and returns whatever comes back.
std::string RawHttp(uint16_t port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    (void)!write(fd, bytes.data(), bytes.size());
    shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace

TEST_CASE("garbage on av.register and av.hb.* changes nothing") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent("honest", dir / "honest", nats.url());
  REQUIRE(WaitUntil([&] { return controller.MachineByName("honest").has_value(); }, 15s));
  const std::string before = boost::json::serialize(
      controller
          .GetJson("/v1/machines/" +
                   std::string(controller.MachineByName("honest")->at("id").as_string()))
          .at("labels"));

  auto bus = ConnectNats({.url = nats.url()});
  REQUIRE(bus);
  std::mt19937 rng(42);
  int answered_with_error = 0;
  for (int i = 0; i < 200; ++i) {
    std::string junk = RandomBytes(rng, 1 + rng() % 300);
    auto reply = (*bus)->Request("av.register", junk, 2s);
    REQUIRE(reply);  // the controller answers, it does not crash or hang
    v1::RegisterReply r;
    if (r.ParseFromString(*reply) && !r.error().empty() && r.machine_id().empty()) {
      ++answered_with_error;
    }
    REQUIRE((*bus)->Publish("av.hb." + std::to_string(i), junk));
  }
  CHECK(answered_with_error == 200);
  // Oversized messages, a heartbeat naming another machine, and valid protobuf of the wrong type.
  REQUIRE((*bus)->Publish("av.hb.x", std::string(200 * 1024, 'A')));
  v1::Heartbeat spoof;
  spoof.set_machine_id(std::string(controller.MachineByName("honest")->at("id").as_string()));
  spoof.mutable_resources()->set_load1(99);
  REQUIRE((*bus)->Publish("av.hb.m-someoneelse", spoof.SerializeAsString()));
  v1::RegisterRequest wrong_name;
  wrong_name.set_name("bad name with spaces");
  auto refused = (*bus)->Request("av.register", wrong_name.SerializeAsString(), 2s);
  REQUIRE(refused);
  v1::RegisterReply rr;
  REQUIRE(rr.ParseFromString(*refused));
  CHECK(rr.error().find("invalid machine name") != std::string::npos);

  // The rejections are counted; the fleet is exactly as it was.
  REQUIRE(WaitUntil(
      [&] {
        return controller.Metric(
                   "autovibe_bus_messages_rejected_total{what=\"heartbeat\",reason="
                   "\"oversized\"}") == 1 &&
               controller.Metric(
                   "autovibe_bus_messages_rejected_total{what=\"heartbeat\",reason=\"subject_"
                   "mismatch\"}") >= 1;
      },
      10s));
  auto machines = controller.Machines();
  REQUIRE(machines.size() == 1);
  CHECK(machines[0].at("name").as_string() == "honest");
  CHECK(machines[0].at("state").as_string() == "ready");
  CHECK(machines[0].at("resources").at("load1").to_number<double>() < 99);
  CHECK(boost::json::serialize(machines[0].at("labels")) == before);
  CHECK(controller.process().Running());
}

TEST_CASE("the API answers 401 without a valid token and survives malformed requests") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());

  auto no_token = controller.Call("GET", "/v1/machines", "");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(boost::json::parse(no_token->body).at("error").at("code").as_string() == "unauthorized");
  auto bad_token = controller.Call("GET", "/v1/machines", "not-the-token");
  REQUIRE(bad_token);
  CHECK(bad_token->status == 401);

  std::mt19937 rng(7);
  const std::vector<std::string> hostile = {
      "GARBAGE\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
      "POST /v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n" +
          std::string(3000000, 'x'),
      "GET /v1/machines/%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /v1/machines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(20000, 'z') +
          "\r\n\r\n",
      "GET http://evil/v1/machines HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
      RandomBytes(rng, 5000),
  };
  for (const auto& h : hostile) {
    std::string out = RawHttp(controller.port(), h);
    INFO(out.substr(0, 200));
    CHECK(out.rfind("HTTP/1.1 4", 0) == 0);  // an answer, a 4xx: never silence, 2xx or 5xx
  }
  // Still serving, with the same token.
  auto ok = controller.Call("GET", "/v1/machines");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(controller.process().Running());
  auto health = controller.Call("GET", "/healthz", "");
  REQUIRE(health);
  CHECK(health->status == 200);
}
