#include "common/tls/issue.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "common/tls/openssl_ptr.h"

namespace autovibe {
namespace {

using tls_detail::BioPtr;
using tls_detail::BioText;
using tls_detail::KeyPtr;
using tls_detail::OpenSslError;
using tls_detail::X509Ptr;

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// A DNS name: labels of letters, digits and '-', joined by '.'; the first may be '*'.
bool IsHostName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    std::string_view label(name.data() + start, end - start);
    if (label.empty() || label.size() > 63) return false;
    const bool wildcard = start == 0 && label == "*";
    if (!wildcard && !std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// "DNS:localhost,IP:127.0.0.1". Only names checked above reach the text OpenSSL parses.
Result<std::string> AltNameText(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ',';
    if (IsIpAddress(n)) {
      out += "IP:" + n;
    } else if (IsHostName(n)) {
      out += "DNS:" + n;
    } else {
      return MakeError(ErrorCode::kBadRequest,
                       "\"" + n + "\" is neither a host name nor an IP address");
    }
  }
  return out;
}

Result<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError(ErrorCode::kInternal, "cannot make an EC P-256 key");
  return key;
}

Result<void> AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) {
    return OpenSslError(ErrorCode::kInternal, "cannot make the extension " + value);
  }
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError(ErrorCode::kInternal, "cannot add the extension " + value);
  return {};
}

void SetTime(ASN1_TIME* field, int64_t unix_ms) {
  ASN1_TIME_set(field, static_cast<time_t>(unix_ms / 1000));
}

// A random positive 127-bit serial number (RFC 5280: at most 20 bytes, unpredictable).
Result<void> SetSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return OpenSslError(ErrorCode::kInternal, "no random bytes for a serial number");
  }
  bytes[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  const bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  if (!ok) return OpenSslError(ErrorCode::kInternal, "cannot set a serial number");
  return {};
}

// Builds and signs the certificate of `key` for `request`; `issuer` null: self-signed.
Result<CertificateAndKey> Make(const CertificateRequest& request, X509* issuer_cert,
                               EVP_PKEY* issuer_key, int64_t now_ms) {
  auto alt_names = AltNameText(request.names);
  if (!alt_names) return alt_names.error();
  auto key = NewKey();
  if (!key) return key.error();
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  if (auto r = SetSerial(cert.get()); !r) return r.error();
  const int64_t not_before = request.not_before_ms ? request.not_before_ms : now_ms - 3'600'000;
  const int64_t not_after =
      request.not_after_ms ? request.not_after_ms : now_ms + int64_t{request.days} * 24 * 3'600'000;
  SetTime(X509_getm_notBefore(cert.get()), not_before);
  SetTime(X509_getm_notAfter(cert.get()), not_after);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer_cert ? X509_get_subject_name(issuer_cert) : name);
  X509_set_pubkey(cert.get(), key->get());

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : cert.get(), cert.get(), nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> exts = {{NID_subject_key_identifier, "hash"},
                                                   {NID_authority_key_identifier, "keyid:always"}};
  if (request.is_ca) {
    exts.push_back({NID_basic_constraints, "critical,CA:TRUE,pathlen:0"});
    exts.push_back({NID_key_usage, "critical,keyCertSign,cRLSign"});
  } else {
    exts.push_back({NID_basic_constraints, "critical,CA:FALSE"});
    exts.push_back({NID_key_usage, "critical,digitalSignature,keyEncipherment"});
    exts.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
  }
  if (!alt_names->empty()) exts.push_back({NID_subject_alt_name, *alt_names});
  for (const auto& [nid, value] : exts) {
    if (auto r = AddExtension(cert.get(), &ctx, nid, value); !r) return r.error();
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key->get(), EVP_sha256()) == 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot sign the certificate");
  }

  CertificateAndKey out;
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return OpenSslError(ErrorCode::kInternal, "cannot write the certificate as PEM");
  }
  out.cert_pem = BioText(cert_bio.get());
  out.key_pem = BioText(key_bio.get());
  auto info = InspectCertificate(out.cert_pem);
  if (!info) return info.error();
  out.info = std::move(*info);
  return out;
}

}  // namespace

Result<CertificateAndKey> MakeSelfSigned(const CertificateRequest& request, int64_t now_ms) {
  return Make(request, nullptr, nullptr, now_ms);
}

Result<CertificateAndKey> MakeSignedCertificate(const CertificateRequest& request,
                                                const CertificateAndKey& issuer, int64_t now_ms) {
  auto cert = tls_detail::ParseCertificatePem(issuer.cert_pem);
  if (!cert) return cert.error();
  auto key = tls_detail::ParsePrivateKeyPem(issuer.key_pem);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kBadData, "the CA's private key is not its certificate's");
  }
  return Make(request, cert->get(), key->get(), now_ms);
}

Result<void> CheckCertificateNames(const std::vector<std::string>& names) {
  auto text = AltNameText(names);
  if (!text) return text.error();
  return {};
}

std::vector<std::string> DefaultServerNames(const std::vector<std::string>& extra) {
  std::vector<std::string> names = {"127.0.0.1", "::1", "localhost"};
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && IsHostName(host)) names.emplace_back(host);
  for (const auto& n : extra) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return names;
}

}  // namespace autovibe
