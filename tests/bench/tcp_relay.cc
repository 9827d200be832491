#include "tests/bench/tcp_relay.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>

namespace autovibe::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Copies from one socket to the other until either side ends; then closes both.
asio::awaitable<void> Pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
  std::array<char, 16 << 10> buf;
  while (true) {
    auto [rec, n] = co_await from->async_read_some(asio::buffer(buf), kTuple);
    if (rec) break;
    auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), kTuple);
    if (wec) break;
  }
  boost::system::error_code ignored;
  from->close(ignored);
  to->close(ignored);
}

asio::awaitable<void> Serve(tcp::socket client, uint16_t upstream_port) {
  auto down = std::make_shared<tcp::socket>(std::move(client));
  auto up = std::make_shared<tcp::socket>(down->get_executor());
  auto [ec] = co_await up->async_connect(
      tcp::endpoint(asio::ip::address_v4::loopback(), upstream_port), kTuple);
  if (ec) co_return;
  boost::system::error_code ignored;
  down->set_option(tcp::no_delay(true), ignored);
  up->set_option(tcp::no_delay(true), ignored);
  asio::co_spawn(down->get_executor(), Pump(down, up), asio::detached);
  asio::co_spawn(down->get_executor(), Pump(up, down), asio::detached);
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor, uint16_t upstream_port) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), Serve(std::move(socket), upstream_port),
                   asio::detached);
  }
}

}  // namespace

TcpRelay::TcpRelay(uint16_t upstream_port)
    : work_(asio::make_work_guard(ioc_)),
      acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
      upstream_port_(upstream_port) {
  asio::co_spawn(ioc_, Accept(acceptor_, upstream_port_), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

TcpRelay::~TcpRelay() {
  asio::post(ioc_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    ioc_.stop();
  });
  thread_.join();
}

std::string TcpRelay::url() const {
  return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
}

}  // namespace autovibe::bench
