// The API's TLS, as the controller's config says: the certificate given, or the self-signed
// one kept in the data dir (made on first start), as a server context; its fingerprint logged
// at every start so that users can pin it.
#pragma once

#include <memory>
#include <string>

#include "common/core/result.h"
#include "controller/config.h"

namespace boost::asio::ssl {
class context;
}

namespace autovibe {

// The self-signed certificate's files in a data dir.
std::string SelfSignedCertPath(const std::string& data_dir);  // DIR/tls-cert.pem
std::string SelfSignedKeyPath(const std::string& data_dir);   // DIR/tls-key.pem

// The context the API serves https with; null when it serves plain http (then warns at every
// start if that is on more than loopback). Runs once at start, on the owner thread, with the
// data dir's lock held. Errors: kBadConfig for a certificate that does not load, does not
// match its key or is out of date (naming the file); kIo when the self-signed one cannot be
// written.
Result<std::shared_ptr<boost::asio::ssl::context>> ApiTlsContext(const ControllerConfig& config,
                                                                 int64_t now_ms);

}  // namespace autovibe
