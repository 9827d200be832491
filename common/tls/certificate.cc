#include "common/tls/certificate.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>
#include <ctime>

#include "common/core/files.h"
#include "common/core/time.h"
#include "common/tls/openssl_ptr.h"

namespace autovibe {
namespace {

using tls_detail::BioPtr;
using tls_detail::BioText;
using tls_detail::ParseCertificatePem;
using tls_detail::ParsePrivateKeyPem;

std::string NameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return BioText(bio.get());
}

int64_t TimeMs(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// "DNS:localhost", "IP:127.0.0.1", ... for each subjectAltName entry.
std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(s->data), s->length));
    } else if (n->type == GEN_IPADD) {
      char text[64] = {};
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      if (ip->length == 4) {
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", ip->data[0], ip->data[1], ip->data[2],
                      ip->data[3]);
        out.push_back(std::string("IP:") + text);
      } else {
        std::string hex;
        for (int b = 0; b < ip->length; b += 2) {
          std::snprintf(text, sizeof text, "%s%x", b ? ":" : "",
                        ip->data[b] << 8 | ip->data[b + 1]);
          hex += text;
        }
        out.push_back("IP:" + hex);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string HexPairs(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ':';
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

CertificateInfo Inspect(X509* cert) {
  CertificateInfo info;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  info.fingerprint = HexPairs(md, n);
  info.subject = NameText(X509_get_subject_name(cert));
  info.issuer = NameText(X509_get_issuer_name(cert));
  info.names = AltNames(cert);
  info.not_before_ms = TimeMs(X509_get0_notBefore(cert));
  info.not_after_ms = TimeMs(X509_get0_notAfter(cert));
  info.self_signed = X509_self_signed(cert, 0) == 1;
  ERR_clear_error();
  return info;
}

}  // namespace

Result<CertificateInfo> InspectCertificate(std::string_view pem) {
  auto cert = ParseCertificatePem(pem);
  if (!cert) return cert.error();
  return Inspect(cert->get());
}

Result<CertificateInfo> InspectCertificateDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  tls_detail::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return tls_detail::OpenSslError(ErrorCode::kBadData, "not a DER certificate");
  return Inspect(cert.get());
}

std::string FingerprintOfDer(std::string_view der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(der.data(), der.size(), md, &n, EVP_sha256(), nullptr);
  return HexPairs(md, n);
}

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string_view rest = text;
  for (std::string_view prefix : {"sha256 fingerprint=", "sha256:", "sha256="}) {
    if (rest.size() >= prefix.size()) {
      bool same = true;
      for (size_t i = 0; i < prefix.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(rest[i])) == prefix[i];
      }
      if (same) rest.remove_prefix(prefix.size());
    }
  }
  std::string digits;
  for (char c : rest) {
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return MakeError(ErrorCode::kBadRequest,
                       "a SHA-256 fingerprint is 64 hex digits (pairs may be joined by ':'); \"" +
                           std::string(text) + "\" holds '" + std::string(1, c) + "'");
    }
    digits += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (digits.size() != 64) {
    return MakeError(ErrorCode::kBadRequest,
                     "a SHA-256 fingerprint is 64 hex digits (pairs may be joined by ':'); \"" +
                         std::string(text) + "\" has " + std::to_string(digits.size()));
  }
  std::string out;
  for (size_t i = 0; i < digits.size(); i += 2) {
    if (i) out += ':';
    out += digits.substr(i, 2);
  }
  return out;
}

Result<void> CheckValidity(const CertificateInfo& cert, int64_t now_ms) {
  if (now_ms > cert.not_after_ms) {
    return MakeError(ErrorCode::kTls, "the certificate " + cert.subject + " expired at " +
                                          FormatRfc3339(cert.not_after_ms));
  }
  if (now_ms < cert.not_before_ms) {
    return MakeError(ErrorCode::kTls, "the certificate " + cert.subject + " is not valid before " +
                                          FormatRfc3339(cert.not_before_ms));
  }
  return {};
}

Result<void> CheckKeyMatches(std::string_view cert_pem, std::string_view key_pem) {
  auto cert = ParseCertificatePem(cert_pem);
  if (!cert) return cert.error();
  auto key = ParsePrivateKeyPem(key_pem);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kTls, "the private key is not the certificate's");
  }
  return {};
}

Result<CertificateAndKey> LoadCertificateAndKey(const std::string& cert_path,
                                                const std::string& key_path, int64_t now_ms) {
  auto fail = [](const std::string& path, const std::string& why) {
    return MakeError(ErrorCode::kBadConfig, path + ": " + why);
  };
  CertificateAndKey out;
  auto cert = ReadFile(cert_path);
  if (!cert) return MakeError(ErrorCode::kBadConfig, cert.error().message);
  auto key = ReadFile(key_path);
  if (!key) return MakeError(ErrorCode::kBadConfig, key.error().message);
  struct stat st {};
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return fail(key_path, "the private key is readable by other users; chmod 600 it");
  }
  auto info = InspectCertificate(*cert);
  if (!info) return fail(cert_path, info.error().message);
  if (auto r = CheckKeyMatches(*cert, *key); !r) {
    return fail(key_path, r.error().code == ErrorCode::kTls
                              ? "this private key is not the one of the certificate " + cert_path
                              : r.error().message);
  }
  if (auto r = CheckValidity(*info, now_ms); !r) return fail(cert_path, r.error().message);
  out.cert_pem = std::move(*cert);
  out.key_pem = std::move(*key);
  out.info = std::move(*info);
  return out;
}

}  // namespace autovibe
