#include "common/http/tls_context.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>

namespace autovibe {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(std::string_view cert_pem,
                                                           std::string_view key_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(cert_pem.data(), cert_pem.size()), ec);
  if (ec) return MakeError(ErrorCode::kBadConfig, "cannot use the certificate: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(key_pem.data(), key_pem.size()), ssl::context::pem, ec);
  if (ec) return MakeError(ErrorCode::kBadConfig, "cannot use the private key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return MakeError(ErrorCode::kBadConfig, "the private key is not the certificate's");
  }
  return ctx;
}

}  // namespace autovibe
