// Test support: reading back what the VM provisioners put in cloud-init user data.
#pragma once

#include <openssl/evp.h>

#include <string>

namespace autovibe::testing {

// The decoded content of the write_files entry for `path` (written with encoding: b64); ""
// when there is none.
inline std::string WrittenFile(const std::string& user_data, const std::string& path) {
  const size_t entry = user_data.find("- path: " + path + "\n");
  if (entry == std::string::npos) return "";
  const std::string key = "content: ";
  const size_t at = user_data.find(key, entry);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  std::string b64 = user_data.substr(start, user_data.find('\n', start) - start);
  if (b64.size() >= 2 && b64.front() == '\'' && b64.back() == '\'')
    b64 = b64.substr(1, b64.size() - 2);
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return "";
  out.resize(static_cast<size_t>(n) - (b64.ends_with("==") ? 2 : b64.ends_with("=") ? 1 : 0));
  return out;
}

}  // namespace autovibe::testing
