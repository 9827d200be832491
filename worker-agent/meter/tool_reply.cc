#include "worker-agent/meter/tool_reply.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdio>

#include "common/core/awaitable.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

}  // namespace

ToolReply::ToolReply(beast::tcp_stream& stream, unsigned version, bool keep_alive, bool head_only,
                     std::chrono::steady_clock::time_point deadline)
    : stream_(stream),
      version_(version),
      keep_alive_(keep_alive),
      head_only_(head_only),
      deadline_(deadline) {}

void ToolReply::Begin(int status, const http::fields& fields,
                      std::optional<uint64_t> content_length) {
  begun_ = true;
  status_ = status;
  chunked_ = !content_length && version_ >= 11;
  if (!content_length && !chunked_) keep_alive_ = false;  // an HTTP/1.0 body ends at close
  head_ = version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  head_ += std::to_string(status);
  head_ += ' ';
  head_ += http::obsolete_reason(static_cast<http::status>(status));
  head_ += "\r\n";
  for (const auto& f : fields) {
    head_.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
  }
  head_ += "Server: autovibe\r\n";
  if (content_length) {
    head_ += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  } else if (chunked_) {
    head_ += "Transfer-Encoding: chunked\r\n";
  }
  if (keep_alive_ != (version_ >= 11)) {
    head_ += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  }
  head_ += "\r\n";
}

// One write: the head if not yet sent, the piece (framed as a chunk when chunked), and the
// last chunk when `last`.
asio::awaitable<bool> ToolReply::Put(std::string_view piece, bool last) {
  if (gone_) co_return false;
  if (head_only_) piece = {};
  std::array<asio::const_buffer, 5> parts;
  size_t n = 0;
  if (!head_.empty()) parts[n++] = asio::buffer(head_);
  char size_line[20];
  if (!piece.empty()) {
    if (chunked_) {
      int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
      parts[n++] = asio::buffer(size_line, len);
    }
    parts[n++] = asio::buffer(piece.data(), piece.size());
    if (chunked_) parts[n++] = asio::buffer("\r\n", 2);
  }
  if (last && chunked_ && !head_only_) parts[n++] = asio::buffer("0\r\n\r\n", 5);
  if (n > 0) {
    stream_.expires_at(deadline_);
    auto [ec, written] = co_await asio::async_write(stream_, parts, kTuple);  // unused: empty
    if (ec) gone_ = true;
  }
  head_.clear();
  if (last) ended_ = !gone_;
  co_return !gone_;
}

asio::awaitable<bool> ToolReply::Flush() { co_return co_await Put({}, false); }

asio::awaitable<bool> ToolReply::Write(std::string_view piece) {
  if (piece.empty() && !head_.empty()) co_return !gone_;  // nothing to send yet
  co_return co_await Put(piece, false);
}

asio::awaitable<bool> ToolReply::End(std::string_view last_piece) {
  co_return co_await Put(last_piece, true);
}

asio::awaitable<bool> ToolReply::Send(int status, const http::fields& fields,
                                      std::string_view body) {
  Begin(status, fields, body.size());
  co_return co_await End(body);
}

asio::awaitable<bool> ToolReply::SendError(const ErrorAnswer& error) {
  http::fields fields;
  fields.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : error.headers) fields.set(k, v);
  co_return co_await Send(error.status, fields, error.body);
}

HangupWatch::HangupWatch(asio::ip::tcp::socket& socket, std::function<void()> on_gone)
    : socket_(socket), state_(std::make_shared<State>()) {
  state_->on_gone = std::move(on_gone);
  Arm(socket_, state_);
}

HangupWatch::~HangupWatch() {
  state_->active = false;
  state_->on_gone = nullptr;
  // Ends the pending wait; its handler sees the watch inactive and touches nothing else. No
  // other operation is pending on the socket between two answers.
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void HangupWatch::Arm(asio::ip::tcp::socket& socket, std::shared_ptr<State> state) {
  socket.async_wait(asio::socket_base::wait_read, [&socket, state](boost::system::error_code ec) {
    if (!state->active) return;  // the socket may be gone: touch only the state
    if (!ec) {
      char byte;
      ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) return;  // the tool sent more: it is still there; stop watching
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        Arm(socket, state);
        return;
      }
    }
    state->gone = true;
    state->active = false;
    if (auto on_gone = std::move(state->on_gone)) on_gone();
  });
}

}  // namespace autovibe::meter
