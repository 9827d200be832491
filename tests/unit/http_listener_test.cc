// The TCP accept loop both HTTP servers stand on (common/http/listener.h), against real
// loopback sockets; the failed accept is a real one (the process out of file descriptors).
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <sstream>
#include <vector>

#include "common/http/listener.h"
#include "tests/support/catch_result.h"
#include "tests/unit/captured_log.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using testing::CapturedLog;

// Runs `ioc` until `done()` holds or 5 s have passed. Returns `done()`.
bool RunUntil(asio::io_context& ioc, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(10ms);
    if (ioc.stopped()) ioc.restart();
  }
  return done();
}

tcp::socket Connect(asio::io_context& ioc, uint16_t port) {
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return s;
}

// Lowers the soft limit on open files so that no new descriptor can be had; restores it.
class OutOfDescriptors {
 public:
  OutOfDescriptors() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    int lowest_free = dup(0);
    REQUIRE(lowest_free >= 0);
    close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~OutOfDescriptors() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

TEST_CASE("listener: each connection reaches the handler, then Stop ends the loop", "[http]") {
  asio::io_context ioc;
  std::vector<tcp::socket> accepted;
  auto held = std::make_shared<int>(0);  // stands for what a server's handler keeps alive
  std::weak_ptr<int> watch = held;
  auto listener =
      StartTcpListener(ioc, {}, [&accepted, held = std::move(held)](tcp::socket s, ConnectionSlot) {
        accepted.push_back(std::move(s));
      });
  REQUIRE(listener);
  const uint16_t port = (*listener)->port();
  REQUIRE(port != 0);

  tcp::socket a = Connect(ioc, port);
  tcp::socket b = Connect(ioc, port);
  REQUIRE(RunUntil(ioc, [&] { return accepted.size() == 2; }));
  CHECK(accepted[0].remote_endpoint() == a.local_endpoint());
  CHECK(accepted[1].remote_endpoint() == b.local_endpoint());
  tcp::no_delay no_delay;
  accepted[0].get_option(no_delay);
  CHECK(no_delay.value());

  (*listener)->Stop();
  (*listener)->Stop();  // idempotent
  // The loop ends and lets go of its handler; the io_context then has nothing left to do.
  accepted.clear();
  a.close();
  b.close();
  REQUIRE(RunUntil(ioc, [&] { return watch.expired(); }));
  ioc.restart();
  ioc.run_for(1s);
  CHECK(ioc.stopped());  // ran out of work, not out of time
  tcp::socket late(ioc);
  boost::system::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("listener: dropping the listener stops it", "[http]") {
  asio::io_context ioc;
  auto held = std::make_shared<int>(0);
  std::weak_ptr<int> watch = held;
  auto listener =
      StartTcpListener(ioc, {}, [held = std::move(held)](tcp::socket, ConnectionSlot) {});
  REQUIRE(listener);
  const uint16_t port = (*listener)->port();
  listener->reset();
  REQUIRE(RunUntil(ioc, [&] { return watch.expired(); }));
  tcp::socket late(ioc);
  boost::system::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("listener: a failed accept is logged and accepting goes on", "[http]") {
  CapturedLog log;
  asio::io_context ioc;
  std::vector<tcp::socket> accepted;
  auto listener =
      StartTcpListener(ioc, {.log_prefix = "test "},
                       [&](tcp::socket s, ConnectionSlot) { accepted.push_back(std::move(s)); });
  REQUIRE(listener);
  tcp::socket client = Connect(ioc, (*listener)->port());
  {
    // The connection waits in the backlog: the accept fails for want of a descriptor.
    OutOfDescriptors exhausted;
    REQUIRE(RunUntil(ioc, [&] { return log.text().find("accept failed") != std::string::npos; }));
    CHECK(accepted.empty());
  }
  CHECK_THAT(log.text(), Catch::Contains("test accept failed: Too many open files"));
  REQUIRE(RunUntil(ioc, [&] { return accepted.size() == 1; }));
  CHECK(accepted[0].remote_endpoint() == client.local_endpoint());
}

// A connection from `source` (a loopback address) to 127.0.0.1:port.
tcp::socket ConnectFrom(asio::io_context& ioc, const std::string& source, uint16_t port) {
  tcp::socket s(ioc, tcp::v4());
  s.bind({asio::ip::make_address(source), 0});
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return s;
}

TEST_CASE("listener: connections are counted per user where the client's user is known", "[http]") {
  asio::io_context ioc;
  // Stands in for the kernel: 127.0.0.2 and 127.0.0.3 are user 7's, 127.0.0.4 nobody knows.
  int asked = 0;
  auto client_user = [&asked](const tcp::socket& s) -> std::optional<uid_t> {
    ++asked;
    if (s.remote_endpoint().address() == asio::ip::make_address("127.0.0.4")) return std::nullopt;
    return 7;
  };
  struct Accepted {
    tcp::socket socket;
    ConnectionSlot slot;
  };
  std::vector<Accepted> accepted;
  auto listener = StartTcpListener(ioc,
                                   {.limits = {.max_connections = 100, .max_per_client = 2},
                                    .refusal = "busy",
                                    .client_user = client_user},
                                   [&](tcp::socket s, ConnectionSlot slot) {
                                     accepted.push_back({std::move(s), std::move(slot)});
                                   });
  REQUIRE(listener);
  const uint16_t port = (*listener)->port();
  // Whether `s` was refused: it reads the refusal, then the end.
  auto refused = [&](tcp::socket& s) {
    boost::system::error_code ec;
    if (!RunUntil(ioc, [&] { return s.available(ec) >= 4 || ec; })) return false;
    std::string got(4, '\0');
    asio::read(s, asio::buffer(got), ec);
    return got == "busy";
  };

  std::vector<tcp::socket> clients;
  clients.push_back(ConnectFrom(ioc, "127.0.0.2", port));
  clients.push_back(ConnectFrom(ioc, "127.0.0.3", port));
  REQUIRE(RunUntil(ioc, [&] { return accepted.size() == 2; }));
  CHECK(accepted[0].slot.client_user() == 7u);
  CHECK(accepted[1].slot.client() == asio::ip::make_address("127.0.0.3"));
  // User 7 has both its places, from whichever address it comes next.
  tcp::socket over = ConnectFrom(ioc, "127.0.0.3", port);
  CHECK(refused(over));
  // A client whose user is not known is counted by its address, apart.
  clients.push_back(ConnectFrom(ioc, "127.0.0.4", port));
  clients.push_back(ConnectFrom(ioc, "127.0.0.4", port));
  REQUIRE(RunUntil(ioc, [&] { return accepted.size() == 4; }));
  CHECK_FALSE(accepted[2].slot.client_user());
  tcp::socket over_address = ConnectFrom(ioc, "127.0.0.4", port);
  CHECK(refused(over_address));
  CHECK(asked == 6);  // once per connection, refused ones too
  // A place given back is user 7's again.
  accepted.erase(accepted.begin());
  tcp::socket again = ConnectFrom(ioc, "127.0.0.2", port);
  REQUIRE(RunUntil(ioc, [&] { return accepted.size() == 4; }));
  CHECK(accepted.back().slot.client_user() == 7u);
  CHECK((*listener)->open_connections() == 4);
}

TEST_CASE("listener: an address that cannot be bound is an error value", "[http]") {
  asio::io_context ioc;
  auto ignore = [](tcp::socket, ConnectionSlot) {};
  auto named = StartTcpListener(ioc, {.host = "localhost"}, ignore);
  REQUIRE_FALSE(named);
  CHECK(named.error().code == ErrorCode::kBadConfig);
  CHECK(named.error().message == "bad listen address localhost");

  auto first = StartTcpListener(ioc, {}, ignore);
  REQUIRE(first);
  const std::string port = std::to_string((*first)->port());
  auto second = StartTcpListener(ioc, {.port = (*first)->port()}, ignore);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ErrorCode::kUnavailable);
  CHECK(second.error().message ==
        "cannot listen on 127.0.0.1:" + port + ": Address already in use");
}

}  // namespace
}  // namespace autovibe
