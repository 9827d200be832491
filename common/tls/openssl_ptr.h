// Owning pointers for OpenSSL objects, and OpenSSL's error queue as an Error. For this
// folder's .cc files only.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe::tls_detail {

struct OpenSslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree>;

// `what`, then the reason OpenSSL gives for its latest error, and the queue cleared:
// "cannot read the certificate: no start line".
inline Error OpenSslError(ErrorCode code, const std::string& what) {
  std::string reason;
  if (unsigned long e = ERR_peek_last_error(); e != 0) {
    const char* r = ERR_reason_error_string(e);
    reason = r != nullptr ? r : "error " + std::to_string(e);
  }
  ERR_clear_error();
  return MakeError(code, reason.empty() ? what : what + ": " + reason);
}

// The first certificate in `pem`.
inline Result<X509Ptr> ParseCertificatePem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError(ErrorCode::kBadData, "not a PEM certificate");
  return cert;
}

// The private key in `pem` (unencrypted).
inline Result<KeyPtr> ParsePrivateKeyPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(ErrorCode::kBadData, "not an unencrypted PEM private key");
  return key;
}

// What a memory BIO holds.
inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace autovibe::tls_detail
