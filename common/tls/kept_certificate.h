// A server's own self-signed certificate, made once and kept: what a server with no
// certificate given serves, so that clients can pin it across restarts.
#pragma once

#include <string>
#include <vector>

#include "common/core/result.h"
#include "common/tls/certificate.h"
#include "common/tls/issue.h"

namespace autovibe {

struct KeptCertificate {
  CertificateAndKey pair;
  bool made = false;  // made now (first start, or the kept one had expired)
  // Names asked for that the kept certificate does not carry (it was made before they were
  // asked for): clients reaching the server by them fail its name check.
  std::vector<std::string> missing_names;
};

// Loads the certificate at `cert_path` and its key at `key_path` when the certificate exists
// and is in date; else makes a self-signed one for `request` and writes the key, then the
// certificate, both mode 0600 (so a certificate there always has its key). Not safe against
// two processes at once (the caller holds its data dir's lock).
// Errors: kBadConfig when the kept files are damaged, do not match, or the key is readable by
// others (the message names the file and says to remove both to make new ones); kIo when they
// cannot be written.
Result<KeptCertificate> LoadOrMakeSelfSigned(const std::string& cert_path,
                                             const std::string& key_path,
                                             const CertificateRequest& request, int64_t now_ms);

}  // namespace autovibe
