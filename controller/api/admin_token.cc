#include "controller/api/admin_token.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "common/core/files.h"
#include "common/core/ids.h"

namespace autovibe {

Result<std::string> LoadOrCreateAdminToken(const std::string& data_dir) {
  const std::string path = data_dir + "/admin.token";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::string token = NewSecret(32);
    if (auto r = WriteFileAtomic(path, token + "\n", 0600); !r) return r.error();
    spdlog::info("controller wrote a new admin token path={}", path);
    return token;
  }
  if ((st.st_mode & 077) != 0) {
    return MakeError(ErrorCode::kBadConfig, path + " is readable by other users; chmod 600 it");
  }
  auto text = ReadFile(path);
  if (!text) return text.error();
  std::string token = *text;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.size() < 16)
    return MakeError(ErrorCode::kBadConfig, path + " holds no usable token (too short)");
  return token;
}

}  // namespace autovibe
