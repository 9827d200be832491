// A webhook receiver over https on loopback, for tests of signed notifications: Boost.Beast
// over TLS with a self-signed certificate made by the openssl command. It keeps every request
// and answers 200, or the statuses it was told to answer first. A fake only in that it stands
// in for a user's service (Slack, a CI hook); the TLS and HTTP are real.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace autovibe::testing {

// A self-signed certificate for 127.0.0.1 (CN and IP SAN) in `dir`: {cert.pem, key.pem} with
// `name` as their stem. Fails the test when openssl cannot make it.
struct CertFiles {
  std::string cert;
  std::string key;
};
CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name);

struct ReceivedHook {
  std::string path;
  std::string body;
  std::string signature;  // X-Autovibe-Signature
  std::string event;      // X-Autovibe-Event
  std::string delivery;   // X-Autovibe-Delivery
  int64_t at_ms = 0;
  int answered = 0;
};

class TlsWebhookReceiver {
 public:
  // Listens on 127.0.0.1 (a free port) with the given certificate.
  explicit TlsWebhookReceiver(const CertFiles& cert);
  ~TlsWebhookReceiver();
  TlsWebhookReceiver(const TlsWebhookReceiver&) = delete;
  TlsWebhookReceiver& operator=(const TlsWebhookReceiver&) = delete;

  // "https://127.0.0.1:PORT<path>".
  std::string url(const std::string& path = "/hook") const;
  // The next requests get these statuses, in order; then 200 again.
  void AnswerFirst(std::vector<int> statuses);
  // Every request so far, answered ones (whatever the status) in order of arrival.
  std::vector<ReceivedHook> Received() const;
  // Those answered 200.
  std::vector<ReceivedHook> Accepted() const;

 private:
  void Accept();
  int NextStatus();
  void Record(ReceivedHook r);

  boost::asio::io_context ioc_;
  boost::asio::ssl::context ssl_;
  boost::asio::ip::tcp::acceptor acceptor_;
  mutable std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<ReceivedHook> received_;
  std::thread thread_;
};

}  // namespace autovibe::testing
