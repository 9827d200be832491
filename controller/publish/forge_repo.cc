#include "controller/publish/forge_repo.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <vector>

#include "common/core/text.h"

namespace autovibe {
namespace {

Error Bad(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

// GitHub's and Gitea's rule for owner and repository names.
bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= 100 && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

// The URL's pieces that matter here.
struct Where {
  std::string scheme;  // "https", "ssh", "git", "file", "" for a local path
  std::string host;
  std::string port;
  std::vector<std::string> path;
};

// "user@host:path", git's scp-like form: a ':' before any '/', and no "://".
bool IsScpLike(std::string_view url) {
  const size_t colon = url.find(':');
  const size_t slash = url.find('/');
  return colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash) &&
         url.find("://") == std::string_view::npos && colon > 0;
}

Result<Where> Parse(std::string_view url) {
  Where w;
  if (url.empty()) return Bad("no repository URL");
  if (url.front() == '-') return Bad("a repository URL may not start with '-'");
  if (url.find("::") != std::string_view::npos) {
    return Bad("\"" + RedactUrl(url) + "\" names a git transport helper, not a repository");
  }
  if (url.front() == '/' || url.starts_with("./") || url.starts_with("../")) {
    w.path = SplitPath(url);
    return w;
  }
  if (IsScpLike(url)) {
    const size_t colon = url.find(':');
    std::string_view host = url.substr(0, colon);
    if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    w.scheme = "ssh";
    w.host = std::string(host);
    w.path = SplitPath(url.substr(colon + 1));
    return w;
  }
  auto u = boost::urls::parse_uri(url);
  if (!u) return Bad("\"" + RedactUrl(url) + "\" is not a repository URL");
  w.scheme = std::string(u->scheme());
  std::transform(w.scheme.begin(), w.scheme.end(), w.scheme.begin(), ::tolower);
  w.host = std::string(u->encoded_host());
  w.port = std::string(u->port());
  w.path = SplitPath(std::string(u->path()));
  const bool known = w.scheme == "https" || w.scheme == "http" || w.scheme == "ssh" ||
                     w.scheme == "git" || w.scheme == "file";
  if (!known) return Bad("repository URLs are https, http, ssh, git or file URLs, not " + w.scheme);
  if (w.scheme != "file" && w.host.empty()) return Bad("\"" + RedactUrl(url) + "\" has no host");
  return w;
}

Result<std::string> CheckApiBase(std::string_view api_base) {
  auto u = boost::urls::parse_uri(api_base);
  if (!u || (u->scheme() != "https" && u->scheme() != "http") || u->host().empty() ||
      u->has_query() || u->has_fragment() || u->has_userinfo()) {
    return Bad(
        "the forge API base must be an http:// or https:// URL without a query, a "
        "fragment or credentials, not \"" +
        RedactUrl(api_base) + "\"");
  }
  std::string out(api_base);
  while (out.ends_with('/')) out.pop_back();
  return out;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t start = scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const std::string_view authority = url.substr(start, end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + "***@" + std::string(url.substr(start + at + 1));
}

Result<ForgeRepo> ResolveForgeRepo(std::string_view repo_url, std::string_view api_base) {
  auto where = Parse(repo_url);
  if (!where) return where.error();
  std::vector<std::string>& path = where->path;
  if (path.size() < 2) {
    return Bad("\"" + RedactUrl(repo_url) + "\" names no OWNER/REPOSITORY");
  }
  ForgeRepo out;
  out.owner = path[path.size() - 2];
  out.repo = path.back();
  if (out.repo.ends_with(".git")) out.repo.resize(out.repo.size() - 4);
  if (!IsName(out.owner) || !IsName(out.repo)) {
    return Bad("\"" + RedactUrl(repo_url) + "\" names no OWNER/REPOSITORY of a forge");
  }
  if (!api_base.empty()) {
    auto base = CheckApiBase(api_base);
    if (!base) return base.error();
    out.api_base = std::move(*base);
    return out;
  }
  std::string host = where->host;
  std::transform(host.begin(), host.end(), host.begin(), ::tolower);
  if (host == "github.com" || host == "www.github.com") {
    out.api_base = "https://api.github.com";
    return out;
  }
  if (where->scheme == "https" || where->scheme == "http") {
    // A forge served under a prefix (https://host/gitea/o/r) has its API under it too.
    std::string root = where->scheme + "://" + where->host;
    if (!where->port.empty()) root += ":" + where->port;
    for (size_t i = 0; i + 2 < path.size(); ++i) root += "/" + path[i];
    out.api_base = root + "/api/v1";
    return out;
  }
  if (where->scheme == "ssh") {
    out.api_base = "https://" + where->host + "/api/v1";
    return out;
  }
  return Bad("cannot tell which forge serves \"" + RedactUrl(repo_url) +
             "\"; give the forge's API base URL");
}

}  // namespace autovibe
