// The TLS side of our HTTP clients (client.cc, sse_client.cc): the context an HttpCall asks
// for, and errors that say what was expected and what was seen. Asio types, so only for their
// .cc files.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <string>

#include "common/core/result.h"
#include "common/http/client.h"

namespace autovibe {

// Made for one call to one host, before connecting; checks the server during and after the
// handshake. Not thread-safe (one call's).
class ClientTls {
 public:
  // The server is verified as `call` says: by its pin when it has one (any chain, the
  // certificate's SHA-256 fingerprint must be the pin's), else against its CA file or the
  // system's CAs with `host` as the name, else (verify_tls false) not at all.
  // Errors: kBadRequest for a pin that is not a fingerprint, kTls when the CA file does not
  // load.
  static Result<std::unique_ptr<ClientTls>> Make(const HttpCall& call, const std::string& host);

  boost::asio::ssl::context& context() { return ctx_; }
  // Before the handshake: the server name the client asks for (SNI).
  Result<void> Prepare(SSL* ssl) const;
  // After the handshake: its failure explained, else the pin and the certificate's validity
  // checked. `where` is "host:port". Errors: kTls.
  Result<void> Check(const boost::system::error_code& handshake, SSL* ssl,
                     const std::string& where) const;

 private:
  ClientTls();
  struct Seen;

  boost::asio::ssl::context ctx_;
  std::string host_;
  std::string ca_file_;
  std::string pin_;
  bool verify_ = true;
  std::shared_ptr<Seen> seen_;  // what the verify callback saw
};

}  // namespace autovibe
