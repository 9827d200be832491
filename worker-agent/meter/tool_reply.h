// Writing one answer back to the tool, a piece at a time as it arrives: the head as soon as
// it is known, then the body with its length if known ahead, else chunked.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/fields.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "worker-agent/meter/errors.h"

namespace autovibe::meter {

class ToolReply {
 public:
  // `deadline` bounds every write.
  ToolReply(boost::beast::tcp_stream& stream, unsigned version, bool keep_alive, bool head_only,
            std::chrono::steady_clock::time_point deadline);

  // Makes the status line and `fields` (content-type included) ready. With `content_length`
  // the body follows as is, without it chunked. The head goes out with the first piece of the
  // body (one write, not two), or alone on Flush().
  void Begin(int status, const boost::beast::http::fields& fields,
             std::optional<uint64_t> content_length);
  // Each returns false once the tool is gone.
  boost::asio::awaitable<bool> Flush();
  boost::asio::awaitable<bool> Write(std::string_view piece);
  // The last piece (maybe empty) and the end of the answer.
  boost::asio::awaitable<bool> End(std::string_view last_piece = {});
  // A whole answer at once.
  boost::asio::awaitable<bool> Send(int status, const boost::beast::http::fields& fields,
                                    std::string_view body);
  boost::asio::awaitable<bool> SendError(const ErrorAnswer& error);

  bool begun() const { return begun_; }
  bool gone() const { return gone_; }
  // The connection can carry the tool's next request.
  bool reusable() const { return keep_alive_ && !gone_ && ended_; }
  int status() const { return status_; }

 private:
  boost::asio::awaitable<bool> Put(std::string_view piece, bool last);

  boost::beast::tcp_stream& stream_;
  unsigned version_;
  bool keep_alive_;
  bool head_only_;
  std::chrono::steady_clock::time_point deadline_;
  std::string head_;  // made, not yet sent
  bool begun_ = false;
  bool chunked_ = false;
  bool ended_ = false;
  bool gone_ = false;
  int status_ = 0;
};

// Notices the tool hanging up while its answer is still coming, without reading from its
// connection: waits for the socket to turn readable and peeks. An end of stream (or an error)
// means the tool is gone and `on_gone` runs; bytes (a pipelined request) end the watch.
class HangupWatch {
 public:
  HangupWatch(boost::asio::ip::tcp::socket& socket, std::function<void()> on_gone);
  ~HangupWatch();  // stops watching
  HangupWatch(const HangupWatch&) = delete;
  HangupWatch& operator=(const HangupWatch&) = delete;

  bool gone() const { return state_->gone; }

 private:
  struct State {
    bool active = true;
    bool gone = false;
    std::function<void()> on_gone;
  };
  static void Arm(boost::asio::ip::tcp::socket& socket, std::shared_ptr<State> state);

  boost::asio::ip::tcp::socket& socket_;
  std::shared_ptr<State> state_;
};

}  // namespace autovibe::meter
