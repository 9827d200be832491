#include "worker-agent/snapshot/hash.h"

#include <openssl/sha.h>

#include <boost/algorithm/hex.hpp>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace autovibe::snapshot {

std::string Hash::hex() const {
  std::string out;
  boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
  return out;
}

Hash Sha256(std::span<const uint8_t> data) {
  // OpenSSL's own SHA-256 functions, the same code EVP_Digest runs in the end, but without
  // EVP's algorithm fetch: that starts OpenSSL's provider machinery, whose pages (about
  // 1.7 MB) would stay in the agent's memory from its first checkpoint on. Deprecated since
  // OpenSSL 3.0 in favour of EVP, still part of it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  SHA256_CTX ctx;
  Hash h;
  // Without SHA-256 every chunk would hash alike and be "stored once": no running on.
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA256_Final(h.bytes.data(), &ctx) != 1) {
    std::fputs("autovibe: SHA-256 failed\n", stderr);
    std::abort();
  }
#pragma GCC diagnostic pop
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
