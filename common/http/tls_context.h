// TLS settings for the HTTP server and clients: Asio SSL contexts made from our certificates,
// TLS 1.2 and 1.3 only.
#pragma once

#include <memory>
#include <string_view>

#include "common/core/result.h"

namespace boost::asio::ssl {
class context;
}

namespace autovibe {

// A server's context from its certificate (the leaf, then any intermediates) and its private
// key, as PEM. Errors: kBadConfig when either does not load or they do not match.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(std::string_view cert_pem,
                                                                        std::string_view key_pem);

}  // namespace autovibe
