#include "common/tls/certificate_dir.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/core/files.h"
#include "common/tls/issue.h"

namespace autovibe {
namespace {

bool PlainFileName(const std::string& name) {
  return !name.empty() && name != "ca" && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                              c == '.';
                     }) &&
         name.front() != '.';
}

// The CA in the directory, or a new one written there.
Result<CertificateAndKey> LoadOrMakeCa(const std::string& cert_path, const std::string& key_path,
                                       int64_t now_ms, bool& made) {
  made = false;
  if (std::filesystem::exists(cert_path)) return LoadCertificateAndKey(cert_path, key_path, now_ms);
  auto ca = MakeSelfSigned({.common_name = "autovibe CA", .days = 3650, .is_ca = true}, now_ms);
  if (!ca) return ca.error();
  if (auto r = WriteFileAtomic(key_path, ca->key_pem, 0600); !r) return r.error();
  if (auto r = WriteFileAtomic(cert_path, ca->cert_pem, 0600); !r) return r.error();
  made = true;
  return ca;
}

}  // namespace

Result<CertificateDirResult> MakeCertificateInDir(const CertificateDirRequest& request,
                                                  int64_t now_ms) {
  if (!PlainFileName(request.name)) {
    return MakeError(ErrorCode::kBadRequest,
                     "the certificate's name \"" + request.name +
                         "\" must be letters, digits, '-', '_' or '.' (and not \"ca\")");
  }
  if (request.names.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "a server certificate needs at least one host name or IP address");
  }
  CertificateDirResult out;
  out.ca_path = request.dir + "/ca.pem";
  out.cert_path = request.dir + "/" + request.name + ".pem";
  out.key_path = request.dir + "/" + request.name + "-key.pem";
  if (std::filesystem::exists(out.cert_path)) {
    return MakeError(ErrorCode::kConflict, out.cert_path + " exists; remove it (and " +
                                               out.key_path + ") to make a new one");
  }
  // Checked before anything is written: a bad name changes nothing.
  if (auto r = CheckCertificateNames(request.names); !r) return r.error();
  if (auto r = MakeDirs(request.dir, 0700); !r) return r.error();
  auto ca = LoadOrMakeCa(out.ca_path, request.dir + "/ca-key.pem", now_ms, out.made_ca);
  if (!ca) return ca.error();
  auto cert = MakeSignedCertificate(
      {.common_name = request.name, .names = request.names, .days = request.days}, *ca, now_ms);
  if (!cert) return cert.error();
  if (auto r = WriteFileAtomic(out.key_path, cert->key_pem, 0600); !r) return r.error();
  if (auto r = WriteFileAtomic(out.cert_path, cert->cert_pem, 0600); !r) return r.error();
  out.ca = ca->info;
  out.cert = cert->info;
  return out;
}

}  // namespace autovibe
