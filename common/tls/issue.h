// Making certificates: a self-signed one for a server that has none, a small CA, and a server
// certificate the CA signs. Keys are EC P-256. Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "common/tls/certificate.h"

namespace autovibe {

struct CertificateRequest {
  std::string common_name = "autovibe";
  // Names the certificate is good for: host names ("localhost", "ctl.example.com") and IP
  // addresses ("127.0.0.1", "::1"); which is which is told from the text.
  std::vector<std::string> names;
  // Validity, in Unix milliseconds; the defaults (0) mean from an hour ago (clocks differ) for
  // `days` days.
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  int days = 3650;
  // A CA certificate (may sign others) rather than a server's.
  bool is_ca = false;
};

// A certificate signed by its own new key. For a server: usable as its own trust anchor (a
// client trusts it as a CA file, or by its fingerprint).
// Errors: kBadRequest for a name that is neither a host name nor an IP address.
Result<CertificateAndKey> MakeSelfSigned(const CertificateRequest& request, int64_t now_ms);

// A certificate for a new key, signed by `issuer` (a CA made by MakeSelfSigned with is_ca, or
// any CA whose key is at hand). Errors as MakeSelfSigned, and kBadData for an issuer that
// does not parse.
Result<CertificateAndKey> MakeSignedCertificate(const CertificateRequest& request,
                                                const CertificateAndKey& issuer, int64_t now_ms);

// Whether each of `names` is a host name or an IP address. Errors: kBadRequest naming the first
// that is neither.
Result<void> CheckCertificateNames(const std::vector<std::string>& names);

// The names a server's certificate should carry by default: 127.0.0.1, ::1, localhost, this
// host's name (gethostname), then `extra` (duplicates dropped).
std::vector<std::string> DefaultServerNames(const std::vector<std::string>& extra);

}  // namespace autovibe
