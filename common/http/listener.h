// One TCP accept loop, shared by the controller's API server and the agent's metering proxy:
// binds, accepts, and hands each connection to its owner. It knows nothing of HTTP.
//
// Runs on the io_context it is given; every method is called on that io_context's thread (or
// before it runs), and the handler runs there too. Not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct ListenerOptions {
  std::string host = "127.0.0.1";  // an IP address, not a name
  uint16_t port = 0;               // 0 picks a free port; see TcpListener::port()
  // Starts the warning logged when an accept fails: "http " logs "http accept failed: ...".
  std::string log_prefix;
};

class TcpListener {
 public:
  // Takes each accepted connection, with TCP_NODELAY set (answers go out as written, not held
  // back for the peer's ACK). Connections are not counted or capped here.
  using OnAccept = std::function<void(boost::asio::ip::tcp::socket)>;

  // Stops accepting (see Stop).
  virtual ~TcpListener() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // Closes the listening socket: nothing more is accepted, and the accept loop lets go of its
  // OnAccept (and whatever that holds) once the io_context has run it to its end. Connections
  // already handed over are the handler's. Idempotent.
  virtual void Stop() = 0;
};

// Binds `options.host:port` and starts accepting. An accept that fails (out of file
// descriptors, a connection reset before it was taken, ...) logs a warning and pauses 100 ms
// instead of spinning on the io_context's thread; connections already accepted go on being
// served. The accept loop holds `on_accept` until Stop.
// Fails with kBadConfig when the host is not an IP address and kUnavailable when the address
// cannot be bound ("cannot listen on HOST:PORT: reason").
Result<std::unique_ptr<TcpListener>> StartTcpListener(boost::asio::io_context& ioc,
                                                      ListenerOptions options,
                                                      TcpListener::OnAccept on_accept);

// Accepts on a socket already bound and listening (e.g. one made in another network namespace),
// as StartTcpListener does after binding. Takes `listening_fd` (closed on error too). Fails with
// kUnavailable when it is not a listening TCP socket.
Result<std::unique_ptr<TcpListener>> AdoptTcpListener(boost::asio::io_context& ioc,
                                                      int listening_fd, std::string log_prefix,
                                                      TcpListener::OnAccept on_accept);

}  // namespace autovibe
