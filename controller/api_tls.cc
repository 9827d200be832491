#include "controller/api_tls.h"

#include <spdlog/spdlog.h>

#include "common/core/time.h"
#include "common/http/tls_context.h"
#include "common/tls/certificate.h"
#include "common/tls/issue.h"
#include "common/tls/kept_certificate.h"

namespace autovibe {

std::string SelfSignedCertPath(const std::string& data_dir) { return data_dir + "/tls-cert.pem"; }
std::string SelfSignedKeyPath(const std::string& data_dir) { return data_dir + "/tls-key.pem"; }

namespace {

// Said at every start (the log is stderr), so nobody serves tokens in the clear unawares.
void WarnInsecureHttp(const ControllerConfig& c) {
  spdlog::warn("INSECURE API: --insecure-http is set; the API serves plain http on {}.", c.listen);
  spdlog::warn("Anyone on the network path reads every token, prompt and secret sent to it.");
  spdlog::warn("Drop --insecure-http to serve https (self-signed, or --tls-cert and --tls-key).");
}

Result<CertificateAndKey> SelfSigned(const ControllerConfig& c, int64_t now_ms) {
  const std::string cert = SelfSignedCertPath(c.data_dir);
  const std::string key = SelfSignedKeyPath(c.data_dir);
  CertificateRequest request{.common_name = "autovibe-controller",
                             .names = DefaultServerNames(c.tls_san)};
  auto kept = LoadOrMakeSelfSigned(cert, key, request, now_ms);
  if (!kept) return kept.error();
  if (kept->made) {
    spdlog::info("controller made a self-signed API certificate path={} sha256={}", cert,
                 kept->pair.info.fingerprint);
  }
  for (const auto& name : kept->missing_names) {
    spdlog::warn(
        "the self-signed API certificate {} was made before {} was asked for and does not carry "
        "it: clients reaching the API by that name refuse it (remove {} and {} to have a new one "
        "made; pinned clients then need the new fingerprint)",
        cert, name, cert, key);
  }
  spdlog::info(
      "controller API certificate: self-signed, SHA-256 {}; clients trust it with "
      "--pin {} (AUTOVIBE_PIN) or --ca {} (AUTOVIBE_CA)",
      kept->pair.info.fingerprint, kept->pair.info.fingerprint, cert);
  return std::move(kept->pair);
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> ApiTlsContext(const ControllerConfig& c,
                                                                 int64_t now_ms) {
  if (ServesPlainHttp(c)) {
    if (c.insecure_http) WarnInsecureHttp(c);
    return std::shared_ptr<boost::asio::ssl::context>();
  }
  Result<CertificateAndKey> pair = MakeError(ErrorCode::kInternal, "no certificate");
  if (c.tls_cert.empty()) {
    pair = SelfSigned(c, now_ms);
  } else {
    pair = LoadCertificateAndKey(c.tls_cert, c.tls_key, now_ms);
    if (pair) {
      spdlog::info("controller API certificate {} ({}, issued by {}), SHA-256 {}, valid until {}",
                   c.tls_cert, pair->info.subject, pair->info.issuer, pair->info.fingerprint,
                   FormatRfc3339(pair->info.not_after_ms));
    }
  }
  if (!pair) return pair.error();
  return MakeServerTlsContext(pair->cert_pem, pair->key_pem);
}

}  // namespace autovibe
