#include "common/bus/nats_tls.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autovibe {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

Result<void> Readable(const std::string& path, std::string_view key) {
  if (access(path.c_str(), R_OK) != 0) {
    return MakeError(ErrorCode::kBadConfig,
                     "cannot read " + std::string(key) + " " + path + ": " + std::strerror(errno));
  }
  return {};
}

Error Refused(std::string_view key, const std::string& path, natsStatus s) {
  return MakeError(ErrorCode::kBadConfig, std::string(key) + " " + path + ": " +
                                              natsStatus_GetText(s) + ": " + LastNatsError());
}

// Which CA the client trusts, for messages.
std::string TrustedCa(const BusTls& tls) {
  if (!tls.ca_file.empty()) return "the CA in " + tls.ca_file + " (nats_ca)";
  if (!tls.ca_pem.empty()) return "the CA in the agent's config (nats_ca_pem)";
  return "a CA this client trusts (give it the server's CA: nats_ca, --nats-ca)";
}

// The handshake failure in words; empty when `detail` names none this knows.
std::string HandshakeReason(std::string_view detail, const BusTls& tls) {
  if (Contains(detail, "unable to get local issuer certificate") ||
      Contains(detail, "self-signed certificate") || Contains(detail, "self signed certificate") ||
      Contains(detail, "certificate signature failure") ||
      Contains(detail, "unable to verify the first certificate")) {
    return "the server's certificate is not signed by " + TrustedCa(tls);
  }
  if (Contains(detail, "certificate has expired")) return "the server's certificate has expired";
  if (Contains(detail, "certificate is not yet valid")) {
    return "the server's certificate is not valid yet (check the clocks)";
  }
  if (Contains(detail, "hostname mismatch") || Contains(detail, "IP address mismatch")) {
    return "the server's certificate is for another host than the one in the URL";
  }
  if (Contains(detail, "certificate required") || Contains(detail, "handshake failure")) {
    return "the server wants a client certificate this client does not have or it does not "
           "accept (nats_cert, nats_key)";
  }
  return "";
}

}  // namespace

bool WantsTls(std::string_view url, const BusTls& tls) {
  return url.starts_with("tls://") || !tls.empty();
}

// NATS.c 3.4 makes each SSL context trust OpenSSL's default CAs (the system's bundle, read
// anew for every connection's options: tens of milliseconds of CPU); the CA given is added to
// them. It offers no way to trust the given CA alone.
Result<void> ApplyTls(natsOptions* opts, std::string_view url, const BusTls& tls) {
  if (!WantsTls(url, tls)) return {};
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     "nats_cert and nats_key go together: a client certificate needs its key");
  }
  natsStatus s = natsOptions_SetSecure(opts, true);
  if (s != NATS_OK) return Refused("TLS", std::string(url), s);
  if (!tls.ca_file.empty()) {
    if (auto r = Readable(tls.ca_file, "nats_ca"); !r) return r;
    if ((s = natsOptions_LoadCATrustedCertificates(opts, tls.ca_file.c_str())) != NATS_OK) {
      return Refused("nats_ca", tls.ca_file, s);
    }
  }
  if (!tls.ca_pem.empty() &&
      (s = natsOptions_SetCATrustedCertificates(opts, tls.ca_pem.c_str())) != NATS_OK) {
    return Refused("nats_ca_pem", "(inline)", s);
  }
  if (!tls.cert_file.empty()) {
    if (auto r = Readable(tls.cert_file, "nats_cert"); !r) return r;
    if (auto r = Readable(tls.key_file, "nats_key"); !r) return r;
    s = natsOptions_LoadCertificatesChain(opts, tls.cert_file.c_str(), tls.key_file.c_str());
    if (s != NATS_OK) return Refused("nats_cert/nats_key", tls.cert_file, s);
  }
  return {};
}

Error ConnectError(std::string_view what, std::string_view url, natsStatus s,
                   std::string_view detail, const BusTls& tls) {
  const std::string head(what);
  const std::string tail = detail.empty() ? natsStatus_GetText(s) : std::string(detail);
  switch (s) {
    case NATS_SSL_ERROR: {
      std::string why = HandshakeReason(detail, tls);
      if (why.empty()) why = "the TLS handshake failed";
      return MakeError(ErrorCode::kTls, head + ": " + why + " (" + tail + ")");
    }
    case NATS_PROTOCOL_ERROR:
      // TLS 1.3 tells a client its certificate was refused after the handshake: the server
      // just hangs up.
      if (WantsTls(url, tls) && Contains(detail, "got ''")) {
        return MakeError(ErrorCode::kTls,
                         head +
                             ": the server hung up after the TLS handshake: it wants a client "
                             "certificate this client does not have or it does not accept "
                             "(nats_cert, nats_key) (" +
                             tail + ")");
      }
      return MakeError(ErrorCode::kUnavailable, head + ": " + tail);
    case NATS_SECURE_CONNECTION_WANTED:
      return MakeError(ErrorCode::kTls,
                       head +
                           ": this client wants TLS (a tls:// URL or nats_ca) and the server "
                           "does not offer it: give nats-server a tls block");
    case NATS_SECURE_CONNECTION_REQUIRED:
      return MakeError(ErrorCode::kTls, head +
                                            ": the server requires TLS: give this client the "
                                            "server's CA (nats_ca, --nats-ca)");
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
      return MakeError(ErrorCode::kUnauthorized, head + ": " + tail);
    case NATS_TIMEOUT:
      return MakeError(ErrorCode::kTimeout, head + ": " + tail);
    default:
      return MakeError(ErrorCode::kUnavailable, head + ": " + tail);
  }
}

std::string LastNatsError() {
  natsStatus s = NATS_OK;
  const char* text = nats_GetLastError(&s);
  if (text == nullptr) return "";
  std::string_view t(text);
  // "(conn.c:733): SSL handshake error: ..." -> "SSL handshake error: ..."
  if (t.starts_with("(")) {
    if (auto end = t.find("): "); end != std::string_view::npos) t.remove_prefix(end + 3);
  }
  return std::string(t);
}

}  // namespace autovibe
