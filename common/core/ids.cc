#include "common/core/ids.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace autovibe {
namespace {

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    // The OS random source failing is not something to limp on with weak ids.
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

std::string NewId(std::string_view prefix) { return std::string(prefix) + "-" + RandomHex(6); }

std::string NewSecret(size_t bytes) { return RandomHex(bytes); }

}  // namespace autovibe
