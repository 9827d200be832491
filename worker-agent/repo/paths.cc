#include "worker-agent/repo/paths.h"

#include <openssl/evp.h>

namespace autovibe::repo {

std::string RepoPaths::Mirror(const std::string& url) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(url.data(), url.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (unsigned int i = 0; i < 12 && i < len; ++i) {
    name += kHex[digest[i] >> 4];
    name += kHex[digest[i] & 15];
  }
  return Mirrors() + "/" + name + ".git";
}

std::string RepoPaths::Spare(const std::string& mirror) const {
  std::string name = mirror.substr(mirror.rfind('/') + 1);
  if (name.ends_with(".git")) name.resize(name.size() - 4);
  return Spares() + "/" + name;
}

}  // namespace autovibe::repo
