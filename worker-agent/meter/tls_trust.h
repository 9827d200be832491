// The certificates an https upstream must show a chain to, and the one TLS client context
// every upstream with the same CA file shares.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe::meter {

// The context is made when the first TLS connection needs it, not at start: the system's
// trusted roots (about 150 certificates) take 0.7 MB of heap per context, and parsing them
// about 1 MB of libcrypto's pages, which an idle agent, or one whose tasks call only the mock,
// never needs. Not thread-safe: used on the proxy's thread.
class TlsTrust {
 public:
  // `ca_file`: certificates trusted besides the system's; empty for none. Fails with
  // kBadConfig when it is set but cannot be read, so that a wrong path shows at start.
  static Result<std::shared_ptr<TlsTrust>> Create(const std::string& ca_file);

  // The context (made on the first call): TLS 1.2 or later, peer verified against the
  // system's roots and `ca_file`. Fails with kBadConfig when `ca_file` holds no certificate.
  Result<boost::asio::ssl::context*> Context();

 private:
  explicit TlsTrust(std::string ca_file) : ca_file_(std::move(ca_file)) {}

  std::string ca_file_;
  std::unique_ptr<boost::asio::ssl::context> context_;
};

}  // namespace autovibe::meter
