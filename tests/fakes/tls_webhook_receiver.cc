#include "tests/fakes/tls_webhook_receiver.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/core/time.h"

namespace autovibe::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One request per connection: the HTTP client the controller uses sends one and hangs up.
struct Session : std::enable_shared_from_this<Session> {
  Session(tcp::socket socket, asio::ssl::context& ssl,
          std::function<http::response<http::string_body>(const http::request<http::string_body>&)>
              handle)
      : stream(std::move(socket), ssl), handle(std::move(handle)) {}

  void Start() {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    stream.async_handshake(asio::ssl::stream_base::server,
                           [self = shared_from_this()](beast::error_code ec) {
                             if (!ec) self->Read();
                           });
  }
  void Read() {
    http::async_read(stream, buffer, request,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->Write();
                     });
  }
  void Write() {
    response = handle(request);
    response.prepare_payload();
    http::async_write(stream, response, [self = shared_from_this()](beast::error_code, size_t) {
      self->stream.async_shutdown([self](beast::error_code) {});
    });
  }

  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response<http::string_body> response;
  std::function<http::response<http::string_body>(const http::request<http::string_body>&)> handle;
};

}  // namespace

CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  CertFiles out{dir + "/" + name + ".pem", dir + "/" + name + "-key.pem"};
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      out.key + " -out " + out.cert + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return out;
}

TlsWebhookReceiver::TlsWebhookReceiver(const CertFiles& cert)
    : ssl_(asio::ssl::context::tls_server), acceptor_(ioc_) {
  ssl_.use_certificate_chain_file(cert.cert);
  ssl_.use_private_key_file(cert.key, asio::ssl::context::pem);
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(at.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen();
  Accept();
  thread_ = std::thread([this] { ioc_.run(); });
}

TlsWebhookReceiver::~TlsWebhookReceiver() {
  ioc_.stop();
  thread_.join();
}

std::string TlsWebhookReceiver::url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
}

void TlsWebhookReceiver::AnswerFirst(std::vector<int> statuses) {
  std::lock_guard lock(mu_);
  statuses_.assign(statuses.begin(), statuses.end());
}

std::vector<ReceivedHook> TlsWebhookReceiver::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::vector<ReceivedHook> TlsWebhookReceiver::Accepted() const {
  std::vector<ReceivedHook> out;
  for (ReceivedHook& r : Received()) {
    if (r.answered == 200) out.push_back(std::move(r));
  }
  return out;
}

int TlsWebhookReceiver::NextStatus() {
  std::lock_guard lock(mu_);
  if (statuses_.empty()) return 200;
  const int s = statuses_.front();
  statuses_.pop_front();
  return s;
}

void TlsWebhookReceiver::Record(ReceivedHook r) {
  std::lock_guard lock(mu_);
  received_.push_back(std::move(r));
}

void TlsWebhookReceiver::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    auto handle = [this](const http::request<http::string_body>& req) {
      ReceivedHook r{.path = std::string(req.target()),
                     .body = req.body(),
                     .signature = std::string(req["X-Autovibe-Signature"]),
                     .event = std::string(req["X-Autovibe-Event"]),
                     .delivery = std::string(req["X-Autovibe-Delivery"]),
                     .at_ms = SystemClock().NowMs(),
                     .answered = NextStatus()};
      http::response<http::string_body> res{static_cast<http::status>(r.answered), 11};
      res.set(http::field::content_type, "text/plain");
      res.body() = r.answered == 200 ? "ok" : "not now";
      Record(std::move(r));
      return res;
    };
    std::make_shared<Session>(std::move(socket), ssl_, std::move(handle))->Start();
    Accept();
  });
}

}  // namespace autovibe::testing
