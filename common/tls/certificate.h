// X.509 certificates as the API and the CLI use them: what a certificate says (names, validity,
// SHA-256 fingerprint), whether a key belongs to it, and whether it is in date. Pure OpenSSL
// (libcrypto); no I/O but the file loading function at the end. Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

// What a certificate says, as people read it.
struct CertificateInfo {
  // SHA-256 of the certificate's DER bytes, upper-case hex pairs joined by ':' (what
  // `openssl x509 -fingerprint -sha256` prints, without its "sha256 Fingerprint=" prefix).
  std::string fingerprint;
  std::string subject;  // "CN=autovibe-controller"
  std::string issuer;
  std::vector<std::string> names;  // subjectAltName entries: "DNS:localhost", "IP:127.0.0.1"
  int64_t not_before_ms = 0;       // Unix milliseconds
  int64_t not_after_ms = 0;
  bool self_signed = false;  // its issuer is its subject and its own key signed it
};

// The first certificate of `pem`. Errors: kBadData when it holds none.
Result<CertificateInfo> InspectCertificate(std::string_view pem);

// A DER-encoded certificate (what a TLS peer sends). Errors: kBadData.
Result<CertificateInfo> InspectCertificateDer(std::string_view der);

// The fingerprint of a DER-encoded certificate, as CertificateInfo::fingerprint.
std::string FingerprintOfDer(std::string_view der);

// A fingerprint as a user may write it: 64 hex digits, with or without ':' (or spaces) between
// pairs, either case, optionally after "sha256:" or "SHA256 Fingerprint=". Returns the form of
// CertificateInfo::fingerprint. Errors: kBadRequest naming what was wrong.
Result<std::string> NormalizeFingerprint(std::string_view text);

// Whether the certificate is valid at `now_ms`. Errors: kTls, "certificate ... expired at
// 2020-01-01T00:00:00.000Z" or "... is not valid before ...".
Result<void> CheckValidity(const CertificateInfo& cert, int64_t now_ms);

// Whether the private key in `key_pem` is the one the certificate in `cert_pem` was made for.
// Errors: kBadData when either does not parse, kTls when they do not match.
Result<void> CheckKeyMatches(std::string_view cert_pem, std::string_view key_pem);

// A certificate and its private key, as PEM text.
struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;
  CertificateInfo info;
};

// Reads a certificate and key from files and checks them: both parse, the key is the
// certificate's, the certificate is valid at `now_ms`, and the key file is readable by its
// owner only (mode 0600 or tighter: a key others can read is no longer secret).
// Errors (kBadConfig, naming the file): unreadable, not PEM, mismatch, expired, key too open.
Result<CertificateAndKey> LoadCertificateAndKey(const std::string& cert_path,
                                                const std::string& key_path, int64_t now_ms);

}  // namespace autovibe
