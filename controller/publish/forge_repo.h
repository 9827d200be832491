// Which forge API serves a repository: from the URL a task was given (and an API base, when
// the forge cannot be told from the URL), the API's base URL and the owner and name of the
// repository in it. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

struct ForgeRepo {
  std::string api_base;  // "https://api.github.com", "https://git.example.com/api/v1"
  std::string owner;     // "octo"
  std::string repo;      // "widgets" (no ".git")
};

// `repo_url` in any form git takes: https://github.com/o/r(.git), http(s)://host[:port]
// [/prefix]/o/r(.git), ssh://[user@]host[:port]/o/r(.git), user@host:o/r(.git); with an
// `api_base` also git://, file:// and local paths (the owner and repository are then the last
// two segments of the path).
//
// Without `api_base`: github.com is served by https://api.github.com; any other host is taken
// for a Gitea or Forgejo, whose API is <web root>/api/v1 (for ssh URLs https://host/api/v1).
// GitHub Enterprise (/api/v3) and forges on other ports than their web URL's need `api_base`.
//
// Errors (kBadRequest) say why, and never repeat a password or token written in the URL.
Result<ForgeRepo> ResolveForgeRepo(std::string_view repo_url, std::string_view api_base = "");

// `url` with any user:password@ part taken out, fit for a log line or an error.
std::string RedactUrl(std::string_view url);

}  // namespace autovibe
