#include "worker-agent/snapshot/hash.h"

#include <openssl/evp.h>

#include <boost/algorithm/hex.hpp>
#include <iterator>

namespace autovibe::snapshot {
namespace {

// Fetched once: EVP_sha256() would look the implementation up on every call.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
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
  EVP_Digest(data.data(), data.size(), h.bytes.data(), &len, Sha256Md(), nullptr);
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
