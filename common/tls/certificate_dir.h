// A directory holding a small CA and the certificates it signed, for servers that clients
// verify with the CA (`autovibe-controller tls init`): ca.pem and ca-key.pem, then
// NAME.pem and NAME-key.pem for each certificate. Every file is mode 0600, the directory 0700.
#pragma once

#include <string>
#include <vector>

#include "common/core/result.h"
#include "common/tls/certificate.h"

namespace autovibe {

struct CertificateDirRequest {
  std::string dir;
  std::string name = "server";     // the certificate's files: NAME.pem, NAME-key.pem
  std::vector<std::string> names;  // host names and IP addresses it is good for
  int days = 825;                  // the certificate's validity; the CA's is ten years
};

struct CertificateDirResult {
  std::string ca_path;    // DIR/ca.pem: what clients are given to verify the server
  std::string cert_path;  // DIR/NAME.pem
  std::string key_path;   // DIR/NAME-key.pem
  CertificateInfo ca;
  CertificateInfo cert;
  bool made_ca = false;  // false: the CA already in the directory signed it
};

// Makes the CA unless the directory has one (then it signs with that one), and a certificate
// NAME for `names` signed by it. Changes nothing and fails with kConflict when NAME.pem exists
// (remove it to make a new one), kBadRequest for a bad name (NAME must be a plain file name),
// kBadConfig when the CA there does not load, kIo when a file cannot be written.
Result<CertificateDirResult> MakeCertificateInDir(const CertificateDirRequest& request,
                                                  int64_t now_ms);

}  // namespace autovibe
