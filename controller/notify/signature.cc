#include "controller/notify/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <cstdlib>

namespace autovibe {

std::string WebhookHmac(std::string_view secret, int64_t unix_s, std::string_view body) {
  const std::string message = std::to_string(unix_s) + "." + std::string(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

std::string WebhookSignature(std::string_view secret, int64_t unix_s, std::string_view body) {
  return "t=" + std::to_string(unix_s) + ",v1=" + WebhookHmac(secret, unix_s, body);
}

Result<void> VerifyWebhookSignature(std::string_view header, std::string_view secret,
                                    std::string_view body, int64_t now_s, int64_t tolerance_s) {
  std::string_view t, v1;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (part.starts_with("t=")) t = part.substr(2);
    if (part.starts_with("v1=")) v1 = part.substr(3);
  }
  int64_t at = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), at);
  if (t.empty() || v1.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return MakeError(ErrorCode::kBadRequest, "the signature header lacks t= or v1=");
  }
  const std::string want = WebhookHmac(secret, at, body);
  if (v1.size() != want.size() || CRYPTO_memcmp(v1.data(), want.data(), want.size()) != 0) {
    return MakeError(ErrorCode::kUnauthorized, "the signature does not match the body");
  }
  if (std::llabs(now_s - at) > tolerance_s) {
    return MakeError(ErrorCode::kUnauthorized, "the signature's timestamp is too far from now");
  }
  return {};
}

}  // namespace autovibe
