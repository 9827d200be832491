#include "worker-agent/snapshot/hash.h"

#include <openssl/evp.h>

#include <boost/algorithm/hex.hpp>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace autovibe::snapshot {
namespace {

// Fetched once: EVP_sha256() would look the implementation up on every call.
// Without SHA-256 every chunk would hash alike and be "stored once": no running on.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) {
      std::fputs("autovibe: OpenSSL offers no SHA-256\n", stderr);
      std::abort();
    }
    return m;
  }();
  return md;
}

}  // namespace

std::string Hash::hex() const {
  std::string out;
  boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
  return out;
}

Hash Sha256(std::span<const uint8_t> data) {
  Hash h;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), h.bytes.data(), &len, Sha256Md(), nullptr) != 1 ||
      len != h.bytes.size()) {
    std::fputs("autovibe: SHA-256 failed\n", stderr);
    std::abort();
  }
  return h;
}

std::optional<Hash> HashFromBytes(std::string_view raw) {
  if (raw.size() != 32) return std::nullopt;
  Hash h;
  std::memcpy(h.bytes.data(), raw.data(), 32);
  return h;
}

std::optional<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string raw;
  try {
    boost::algorithm::unhex(hex.begin(), hex.end(), std::back_inserter(raw));
  } catch (const boost::algorithm::hex_decode_error&) {
    return std::nullopt;
  }
  return HashFromBytes(raw);
}

}  // namespace autovibe::snapshot
