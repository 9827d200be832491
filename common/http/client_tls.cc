#include "common/http/client_tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/host_name_verification.hpp>

#include "common/core/files.h"
#include "common/core/time.h"
#include "common/tls/certificate.h"

namespace autovibe {

namespace ssl = boost::asio::ssl;

namespace {

// The DER bytes of a certificate.
std::string Der(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

// "CN=ctl, issued by CN=autovibe CA, SHA-256 AB:..., valid 2026-... to 2030-...".
std::string Describe(const CertificateInfo& c, bool fingerprint = true) {
  return c.subject + (c.self_signed ? ", self-signed" : ", issued by " + c.issuer) +
         (fingerprint ? ", SHA-256 " + c.fingerprint : "") + ", valid " +
         FormatRfc3339(c.not_before_ms) + " to " + FormatRfc3339(c.not_after_ms);
}

std::string NameList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "no names" : out;
}

}  // namespace

// What the verify callback saw of the server's certificate when it refused it.
struct ClientTls::Seen {
  std::string reason;  // empty: nothing refused
  bool wrong_name = false;
  std::optional<CertificateInfo> leaf;
};

ClientTls::ClientTls() : ctx_(ssl::context::tls_client), seen_(std::make_shared<Seen>()) {}

Result<std::unique_ptr<ClientTls>> ClientTls::Make(const HttpCall& call, const std::string& host) {
  std::unique_ptr<ClientTls> t(new ClientTls());
  t->host_ = host;
  t->ca_file_ = call.ca_file;
  t->verify_ = call.verify_tls;
  t->ctx_.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                      ssl::context::no_tlsv1_1);
  if (!call.pin_sha256.empty()) {
    auto pin = NormalizeFingerprint(call.pin_sha256);
    if (!pin) return pin.error();
    t->pin_ = std::move(*pin);
  }
  if (!t->verify_ || !t->pin_.empty()) {
    // A pin names the one certificate to trust, whoever issued it: checked after the
    // handshake, before anything is sent.
    t->ctx_.set_verify_mode(ssl::verify_none);
    return t;
  }
  boost::system::error_code ec;
  if (call.ca_file.empty()) {
    t->ctx_.set_default_verify_paths(ec);
  } else {
    t->ctx_.load_verify_file(call.ca_file, ec);
  }
  if (ec) {
    return MakeError(ErrorCode::kTls, "cannot load the CA certificates" +
                                          (call.ca_file.empty() ? "" : " in " + call.ca_file) +
                                          ": " + ec.message());
  }
  t->ctx_.set_verify_mode(ssl::verify_peer);
  t->ctx_.set_verify_callback([seen = t->seen_, check = ssl::host_name_verification(host)](
                                  bool preverified, ssl::verify_context& vctx) mutable {
    const bool ok = check(preverified, vctx);
    if (ok || !seen->reason.empty()) return ok;
    X509_STORE_CTX* store = vctx.native_handle();
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
      auto info = InspectCertificateDer(Der(leaf));
      if (info) seen->leaf = std::move(*info);
    }
    seen->wrong_name = preverified;
    seen->reason = preverified ? "it is not for this host name"
                               : X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    return false;
  });
  return t;
}

Result<void> ClientTls::Prepare(SSL* ssl) const {
  if (!SSL_set_tlsext_host_name(ssl, host_.c_str())) {
    return MakeError(ErrorCode::kTls, "cannot set the TLS server name " + host_);
  }
  return {};
}

Result<void> ClientTls::Check(const boost::system::error_code& handshake, SSL* ssl,
                              const std::string& where) const {
  if (handshake && !seen_->reason.empty()) {
    std::string seen = seen_->leaf ? " (" + Describe(*seen_->leaf) + ")" : "";
    if (seen_->wrong_name) {
      return MakeError(ErrorCode::kTls,
                       "the certificate of " + where + " is for " +
                           NameList(seen_->leaf ? seen_->leaf->names : std::vector<std::string>{}) +
                           ", not " + host_ + seen);
    }
    std::string expected = "a CA this system trusts";
    if (!ca_file_.empty()) {
      auto ca = ReadFile(ca_file_);
      auto info = ca ? InspectCertificate(*ca) : Result<CertificateInfo>(ca.error());
      expected = "the CA file " + ca_file_ + (info ? " (" + info->subject + ")" : "");
    }
    return MakeError(ErrorCode::kTls, "the certificate of " + where + seen + " is not trusted: " +
                                          seen_->reason + "; checked against " + expected);
  }
  if (handshake) {
    std::string hint;
    if (handshake.message().find("wrong version number") != std::string::npos ||
        handshake.message().find("packet length too long") != std::string::npos) {
      hint = " (it does not speak TLS: if it serves plain http, use an http:// URL)";
    }
    return MakeError(ErrorCode::kTls,
                     "TLS with " + where + " failed: " + handshake.message() + hint);
  }
  if (pin_.empty()) return {};
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return MakeError(ErrorCode::kTls, where + " sent no certificate");
  auto info = InspectCertificateDer(Der(peer));
  X509_free(peer);
  if (!info) return MakeError(ErrorCode::kTls, where + " sent a certificate that does not parse");
  if (info->fingerprint != pin_) {
    return MakeError(ErrorCode::kTls, "the certificate of " + where + " has SHA-256 fingerprint " +
                                          info->fingerprint + ", not the pinned " + pin_ + " (" +
                                          Describe(*info, false) + ")");
  }
  if (auto r = CheckValidity(*info, SystemClock().NowMs()); !r) {
    return MakeError(ErrorCode::kTls, "the pinned certificate of " + where +
                                          " is out of date: " + r.error().message);
  }
  return {};
}

}  // namespace autovibe
