// One TCP accept loop, shared by the controller's API server and the agent's metering proxy:
// binds, accepts, counts connections against caps (overall and per client: its user or its
// address), and hands each connection to its owner. It knows nothing of HTTP.
//
// Runs on the io_context it is given; every method is called on that io_context's thread (or
// before it runs), and the handler runs there too. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/core/result.h"

namespace autovibe {

// How many connections a server keeps open at once. Over either cap a new connection is
// answered `refusal` (a canned answer, sent without waiting) and closed, except that when the
// server is full overall, the connection that has waited longest for a request's head (an idle
// keep-alive one, or one sending its head slowly) is closed to make room: a client holding
// many half-sent requests open cannot starve the others.
struct ConnectionLimits {
  size_t max_connections = 4096;
  // Per client: its user when ListenerOptions::client_user tells it, else its IP address.
  size_t max_per_client = 512;
};

struct ListenerOptions {
  std::string host = "127.0.0.1";  // an IP address, not a name
  uint16_t port = 0;               // 0 picks a free port; see TcpListener::port()
  // Starts the warning logged when an accept fails: "http " logs "http accept failed: ...".
  std::string log_prefix;
  ConnectionLimits limits;
  // The bytes sent to a connection refused over a cap (e.g. an HTTP 503 answer); empty: none.
  std::string refusal;
  // Who owns the client's socket, where the server can tell (e.g. on loopback, from the
  // kernel): connections are then counted against max_per_client per user, from whatever
  // address they come, and those whose user it cannot tell (nullopt) per address. Unset: all
  // per address. Called on the io_context's thread once per accepted connection, before it is
  // admitted or refused; the answer goes with the connection (ConnectionSlot::client_user).
  std::function<std::optional<uid_t>(const boost::asio::ip::tcp::socket&)> client_user;
};

namespace listener_detail {
struct Tracker;
struct Entry;
}  // namespace listener_detail

// A connection's place in its listener's count. Held by whoever serves the connection, for as
// long as it is open: destroying it gives the place back. Move-only.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(std::shared_ptr<listener_detail::Tracker> tracker,
                 std::unique_ptr<listener_detail::Entry> entry);
  ConnectionSlot(ConnectionSlot&&) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&&) noexcept;
  ~ConnectionSlot();

  // The connection waits for a request's head on `socket` (the socket the connection was
  // handed over as, wherever it now lives, which must outlive this call's effect: until Busy()
  // or the slot's end). When the listener is full, the connection that has waited longest is
  // closed (socket.close()) to make room.
  void Waiting(boost::asio::ip::tcp::socket& socket);
  // The connection is serving a request: it is not closed to make room.
  void Busy();
  // The client's address.
  const boost::asio::ip::address& client() const;
  // The user owning the client's socket, as ListenerOptions::client_user told it.
  std::optional<uid_t> client_user() const;

 private:
  std::shared_ptr<listener_detail::Tracker> tracker_;
  std::unique_ptr<listener_detail::Entry> entry_;
};

class TcpListener {
 public:
  // Takes each accepted connection, with TCP_NODELAY set (answers go out as written, not held
  // back for the peer's ACK), and its slot in the count.
  using OnAccept = std::function<void(boost::asio::ip::tcp::socket, ConnectionSlot)>;

  // Stops accepting (see Stop).
  virtual ~TcpListener() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // Connections open now (handed over and not yet given back).
  virtual size_t open_connections() const = 0;
  // Closes the listening socket: nothing more is accepted, and the accept loop lets go of its
  // OnAccept (and whatever that holds) once the io_context has run it to its end. Connections
  // already handed over are the handler's. Idempotent.
  virtual void Stop() = 0;
};

// Binds `options.host:port` and starts accepting. An accept that fails (out of file
// descriptors, a connection reset before it was taken, ...) logs a warning and pauses 100 ms
// instead of spinning on the io_context's thread; connections already accepted go on being
// served. The accept loop holds `on_accept` until Stop.
// Fails with kBadConfig when the host is not an IP address or a limit is 0, and kUnavailable
// when the address cannot be bound ("cannot listen on HOST:PORT: reason").
Result<std::unique_ptr<TcpListener>> StartTcpListener(boost::asio::io_context& ioc,
                                                      ListenerOptions options,
                                                      TcpListener::OnAccept on_accept);

// Accepts on a socket already bound and listening (e.g. one made in another network namespace),
// as StartTcpListener does after binding. Takes `listening_fd` (closed on error too). Fails with
// kUnavailable when it is not a listening TCP socket.
// The options' host and port are not used; its caps, refusal and log prefix are.
Result<std::unique_ptr<TcpListener>> AdoptTcpListener(boost::asio::io_context& ioc,
                                                      int listening_fd, ListenerOptions options,
                                                      TcpListener::OnAccept on_accept);

}  // namespace autovibe
