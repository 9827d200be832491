// A bare TCP relay for the meter bench: accepts on loopback and pumps bytes both ways to one
// upstream, parsing nothing. What it adds to a call is the least any proxy on the same path
// can add (two more loopback hops and two more thread wake-ups), the floor the metering
// proxy is compared with.
//
// Runs on its own thread; construct, read url(), destroy.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <thread>

namespace autovibe::bench {

class TcpRelay {
 public:
  // Relays to 127.0.0.1:`upstream_port`. Throws when it cannot listen.
  explicit TcpRelay(uint16_t upstream_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  // "http://127.0.0.1:PORT"
  std::string url() const;

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t upstream_port_;
  std::thread thread_;
};

}  // namespace autovibe::bench
