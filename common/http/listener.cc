#include "common/http/listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <map>
#include <variant>

#include "common/core/awaitable.h"

namespace autovibe {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace listener_detail {

// Whom a connection counts against for max_per_client: its client's user when known, else its
// client's address.
using ClientKey = std::variant<asio::ip::address, uid_t>;

ClientKey KeyOf(const asio::ip::address& client, std::optional<uid_t> user) {
  if (user) return *user;
  return client;
}

// One connection handed over. Lives in its slot; linked into the tracker's waiting list while
// it waits for a request's head.
struct Entry : boost::intrusive::list_base_hook<> {
  asio::ip::address client;
  std::optional<uid_t> user;
  tcp::socket* socket = nullptr;  // while waiting
  bool closed_to_make_room = false;

  ClientKey key() const { return KeyOf(client, user); }
};

// The count of connections, shared by the accept loop and the slots (which may outlive it).
struct Tracker {
  ConnectionLimits limits;
  size_t open = 0;
  std::map<ClientKey, size_t> per_client;
  boost::intrusive::list<Entry> waiting;  // the longest waiting first

  void Count(const ClientKey& client) {
    ++open;
    ++per_client[client];
  }
  void Uncount(const ClientKey& client) {
    --open;
    auto it = per_client.find(client);
    if (--it->second == 0) per_client.erase(it);
  }
  void StopWaiting(Entry& e) {
    if (e.is_linked()) waiting.erase(waiting.iterator_to(e));
    e.socket = nullptr;
  }
  // Closes the connection that has waited longest for a request's head; false if none waits.
  bool CloseOneWaiting() {
    if (waiting.empty()) return false;
    Entry& e = waiting.front();
    tcp::socket* socket = e.socket;
    StopWaiting(e);
    e.closed_to_make_room = true;
    Uncount(e.key());  // its descriptor is free now; the slot goes later
    boost::system::error_code ignored;
    socket->close(ignored);
    return true;
  }
};

}  // namespace listener_detail

using listener_detail::ClientKey;
using listener_detail::Entry;
using listener_detail::KeyOf;
using listener_detail::Tracker;

ConnectionSlot::ConnectionSlot(std::shared_ptr<Tracker> tracker, std::unique_ptr<Entry> entry)
    : tracker_(std::move(tracker)), entry_(std::move(entry)) {}
ConnectionSlot::ConnectionSlot(ConnectionSlot&&) noexcept = default;
ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    ConnectionSlot gone(std::move(*this));
    tracker_ = std::move(other.tracker_);
    entry_ = std::move(other.entry_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() {
  if (!entry_) return;
  tracker_->StopWaiting(*entry_);
  if (!entry_->closed_to_make_room) tracker_->Uncount(entry_->key());
}

void ConnectionSlot::Waiting(tcp::socket& socket) {
  if (!entry_ || entry_->closed_to_make_room) return;
  tracker_->StopWaiting(*entry_);
  entry_->socket = &socket;
  tracker_->waiting.push_back(*entry_);
}

void ConnectionSlot::Busy() {
  if (entry_) tracker_->StopWaiting(*entry_);
}

const asio::ip::address& ConnectionSlot::client() const {
  static const asio::ip::address kNone;
  return entry_ ? entry_->client : kNone;
}

std::optional<uid_t> ConnectionSlot::client_user() const {
  return entry_ ? entry_->user : std::nullopt;
}

namespace {

constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::chrono::seconds kRefusalLogEvery{10};

// The acceptor, shared by the handle and the accept loop so the loop can outlive the handle.
struct Acceptor {
  explicit Acceptor(asio::io_context& ioc) : socket(ioc) {}
  tcp::acceptor socket;
  uint16_t port = 0;
  std::shared_ptr<Tracker> tracker = std::make_shared<Tracker>();
};

Result<void> Bind(tcp::acceptor& acceptor, const ListenerOptions& options) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options.host, ec);
  if (ec) return MakeError(ErrorCode::kBadConfig, "bad listen address " + options.host);
  tcp::endpoint ep(addr, options.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // Accepted connections inherit TCP_NODELAY from the listening socket: one system call per
  // connection fewer than setting it on each.
  if (!ec) acceptor.set_option(tcp::no_delay(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen on " + options.host + ":" +
                                                  std::to_string(options.port) + ": " +
                                                  ec.message());
  }
  return {};
}

// Sends the canned refusal if the socket takes it at once, and closes the connection.
void Refuse(tcp::socket& socket, const std::string& refusal) {
  if (!refusal.empty()) {
    ::send(socket.native_handle(), refusal.data(), refusal.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(socket.native_handle(), SHUT_WR);
  }
  boost::system::error_code ignored;
  socket.close(ignored);
}

// Whether the connection from `client` may be taken, making room if the listener is full.
bool Admit(Tracker& t, const ClientKey& client) {
  auto it = t.per_client.find(client);
  if (it != t.per_client.end() && it->second >= t.limits.max_per_client) return false;
  return t.open < t.limits.max_connections || t.CloseOneWaiting();
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<Acceptor> acceptor, ListenerOptions options,
                                 TcpListener::OnAccept on_accept) {
  tcp::acceptor& a = acceptor->socket;
  Tracker& tracker = *acceptor->tracker;
  uint64_t refused = 0;
  auto last_refusal_log = std::chrono::steady_clock::time_point{};
  tcp::endpoint peer;
  while (a.is_open()) {
    auto [ec, socket] = co_await a.async_accept(peer, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !a.is_open()) co_return;
      // Out of file descriptors (or similar): pause instead of spinning on the owner thread,
      // and keep serving the connections we have.
      spdlog::warn("{}accept failed: {}", options.log_prefix, ec.message());
      asio::steady_timer pause(a.get_executor(), kAcceptPause);
      co_await pause.async_wait(kTuple);
      continue;
    }
    const asio::ip::address client = peer.address();
    const std::optional<uid_t> user =
        options.client_user ? options.client_user(socket) : std::nullopt;
    const ClientKey key = KeyOf(client, user);
    if (!Admit(tracker, key)) {
      Refuse(socket, options.refusal);
      ++refused;
      auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log >= kRefusalLogEvery) {
        spdlog::warn("{}refused {} connection(s) over the caps ({} open, at most {} per client)",
                     options.log_prefix, refused, tracker.open, tracker.limits.max_per_client);
        last_refusal_log = now;
        refused = 0;
      }
      continue;
    }
    tracker.Count(key);
    auto entry = std::make_unique<Entry>();
    entry->client = client;
    entry->user = user;
    on_accept(std::move(socket), ConnectionSlot(acceptor->tracker, std::move(entry)));
  }
}

class Listener final : public TcpListener {
 public:
  explicit Listener(std::shared_ptr<Acceptor> a) : a_(std::move(a)) {}
  ~Listener() override { Stop(); }
  uint16_t port() const override { return a_->port; }
  size_t open_connections() const override { return a_->tracker->open; }
  void Stop() override {
    boost::system::error_code ignored;
    a_->socket.close(ignored);
  }

 private:
  std::shared_ptr<Acceptor> a_;
};

}  // namespace

Result<std::unique_ptr<TcpListener>> StartTcpListener(asio::io_context& ioc,
                                                      ListenerOptions options,
                                                      TcpListener::OnAccept on_accept) {
  if (options.limits.max_connections == 0 || options.limits.max_per_client == 0) {
    return MakeError(ErrorCode::kBadConfig, "connection limits must be at least 1");
  }
  auto acceptor = std::make_shared<Acceptor>(ioc);
  acceptor->tracker->limits = options.limits;
  if (auto r = Bind(acceptor->socket, options); !r) return r.error();
  acceptor->port = acceptor->socket.local_endpoint().port();
  asio::co_spawn(ioc, AcceptLoop(acceptor, std::move(options), std::move(on_accept)),
                 asio::detached);
  return std::unique_ptr<TcpListener>(new Listener(std::move(acceptor)));
}

Result<std::unique_ptr<TcpListener>> AdoptTcpListener(asio::io_context& ioc, int listening_fd,
                                                      ListenerOptions options,
                                                      TcpListener::OnAccept on_accept) {
  if (options.limits.max_connections == 0 || options.limits.max_per_client == 0) {
    ::close(listening_fd);
    return MakeError(ErrorCode::kBadConfig, "connection limits must be at least 1");
  }
  auto acceptor = std::make_shared<Acceptor>(ioc);
  acceptor->tracker->limits = options.limits;
  boost::system::error_code ec;
  acceptor->socket.assign(tcp::v4(), listening_fd, ec);
  if (ec) {
    ::close(listening_fd);
    return MakeError(ErrorCode::kUnavailable,
                     "cannot accept on a handed-over socket: " + ec.message());
  }
  acceptor->port = acceptor->socket.local_endpoint(ec).port();
  asio::co_spawn(ioc, AcceptLoop(acceptor, std::move(options), std::move(on_accept)),
                 asio::detached);
  return std::unique_ptr<TcpListener>(new Listener(std::move(acceptor)));
}

}  // namespace autovibe
