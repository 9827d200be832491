// The TCP accept loop both HTTP servers stand on (common/http/listener.h), against real
// loopback sockets; the failed accept is a real one (the process out of file descriptors).
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <sstream>
#include <vector>

#include "common/http/listener.h"
#include "tests/support/catch_result.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

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

// Sends the default logger's lines to a string while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

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
