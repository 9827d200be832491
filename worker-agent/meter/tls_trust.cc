#include "worker-agent/meter/tls_trust.h"

#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autovibe::meter {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<TlsTrust>> TlsTrust::Create(const std::string& ca_file) {
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
    return MakeError(ErrorCode::kBadConfig,
                     "cannot load CA file " + ca_file + ": " + std::string(std::strerror(errno)));
  }
  return std::shared_ptr<TlsTrust>(new TlsTrust(ca_file));
}

Result<ssl::context*> TlsTrust::Context() {
  if (context_) return context_.get();
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);  // no system store is no error: ca_file may do
  ec.clear();
  if (!ca_file_.empty()) ctx->load_verify_file(ca_file_, ec);
  if (ec)
    return MakeError(ErrorCode::kBadConfig,
                     "cannot load CA file " + ca_file_ + ": " + ec.message());
  context_ = std::move(ctx);
  return context_.get();
}

}  // namespace autovibe::meter
