// A client for the fuzz targets that feed raw bytes to our HTTP servers (the API's, the
// metering proxy's) through a real loopback connection, so the bytes meet the very parser and
// session code the server runs: one connection per input, the bytes written and the sending
// side shut, the server's io_context run on this thread until it closes the connection.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_target.h"

namespace autovibe::fuzz {

struct Exchanged {
  std::string answer;   // what the server sent back
  bool closed = false;  // the server closed the connection (else: still streaming at the end)
};

// Sends `bytes` to 127.0.0.1:`port` and runs `ioc` until the server closes the connection, or
// `streaming_for` after the last byte came back while it stays open (an event stream, an
// answer that waits), or `deadline` in all. The client's side is then closed.
inline Exchanged Exchange(boost::asio::io_context& ioc, uint16_t port, std::string_view bytes,
                          std::chrono::milliseconds streaming_for = std::chrono::milliseconds(20),
                          std::chrono::milliseconds deadline = std::chrono::milliseconds(2000)) {
  using Clock = std::chrono::steady_clock;
  Exchanged out;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    std::abort();
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    std::perror("connect");
    std::abort();
  }
  // The client's socket waits on the server's io_context too, so that running it returns as
  // soon as either side has something to do.
  boost::asio::ip::tcp::socket waiter(ioc);
  waiter.assign(boost::asio::ip::tcp::v4(), fd);
  bool waiting = false;
  const auto start = Clock::now();
  auto last_answer = start;
  bool shut = false;
  char buf[16384];
  while (Clock::now() - start < deadline) {
    if (ioc.stopped()) ioc.restart();
    bool progress = ioc.poll() > 0;
    if (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
        bytes = {};  // the server closed early (it refused the request)
      }
    }
    if (bytes.empty() && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.answer.append(buf, static_cast<size_t>(n));
      last_answer = Clock::now();
      progress = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
      out.closed = true;
      break;
    }
    if (!out.answer.empty() && Clock::now() - last_answer > streaming_for) break;
    if (!progress) {
      if (!waiting) {
        waiting = true;
        waiter.async_wait(boost::asio::socket_base::wait_read,
                          [&waiting](boost::system::error_code) { waiting = false; });
      }
      ioc.run_one_for(std::chrono::milliseconds(5));
    }
  }
  boost::system::error_code ignored;
  waiter.close(ignored);  // closes fd; a wait still pending ends, aborted
  while (waiting && ioc.run_one_for(std::chrono::milliseconds(5)) > 0) {
  }
  if (Showing()) {
    std::string shown = out.answer.substr(0, out.answer.find("\r\n"));
    if (const size_t body = out.answer.find("\r\n\r\n"); body != std::string::npos) {
      shown += " | " + out.answer.substr(body + 4, 160);
    }
    Show(shown);
  }
  // Whatever the close sets off on the server's side.
  for (int i = 0; i < 16 && ioc.poll() > 0; ++i) {
  }
  ioc.restart();
  return out;
}

}  // namespace autovibe::fuzz
