#include "common/tls/kept_certificate.h"

#include <algorithm>
#include <filesystem>

#include "common/core/files.h"

namespace autovibe {
namespace {

// The names of `request` that `info` does not carry.
std::vector<std::string> MissingNames(const CertificateInfo& info,
                                      const std::vector<std::string>& wanted) {
  std::vector<std::string> out;
  for (const auto& n : wanted) {
    const bool has = std::any_of(info.names.begin(), info.names.end(), [&](const std::string& c) {
      return c == "DNS:" + n || c == "IP:" + n;
    });
    if (!has) out.push_back(n);
  }
  return out;
}

// Whether the certificate at `cert_path` has expired and the key at `key_path` is its own.
bool Expired(const std::string& cert_path, const std::string& key_path, int64_t now_ms) {
  auto cert = ReadFile(cert_path);
  auto key = ReadFile(key_path);
  if (!cert || !key) return false;
  auto info = InspectCertificate(*cert);
  return info && now_ms > info->not_after_ms && CheckKeyMatches(*cert, *key);
}

}  // namespace

Result<KeptCertificate> LoadOrMakeSelfSigned(const std::string& cert_path,
                                             const std::string& key_path,
                                             const CertificateRequest& request, int64_t now_ms) {
  KeptCertificate out;
  if (std::filesystem::exists(cert_path)) {
    auto kept = LoadCertificateAndKey(cert_path, key_path, now_ms);
    if (kept) {
      out.missing_names = MissingNames(kept->info, request.names);
      out.pair = std::move(*kept);
      return out;
    }
    // Only a certificate that has expired, with its own key, is replaced unasked: anything
    // else may be a mistake the user wants to see.
    if (!Expired(cert_path, key_path, now_ms)) {
      return MakeError(ErrorCode::kBadConfig, kept.error().message + " (remove " + cert_path +
                                                  " and " + key_path +
                                                  " to have a new self-signed certificate made)");
    }
  }
  auto made = MakeSelfSigned(request, now_ms);
  if (!made) return made.error();
  if (auto r = WriteFileAtomic(key_path, made->key_pem, 0600); !r) return r.error();
  if (auto r = WriteFileAtomic(cert_path, made->cert_pem, 0600); !r) return r.error();
  out.pair = std::move(*made);
  out.made = true;
  return out;
}

}  // namespace autovibe
