#include "common/core/repo_url.h"

#include <algorithm>

namespace autovibe {
namespace {

constexpr size_t kMaxUrl = 2048;

Error BadUrl(std::string_view text, std::string why) {
  std::string shown(text.substr(0, 120));
  return MakeError(ErrorCode::kBadUrl, "repository \"" + shown + "\" " + why);
}

bool Printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

bool HostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '[' || c == ']' || c == ':';
}

bool HasDotDot(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

// "[user@]host[:port]" then "/path", for the URL forms.
Result<RepoUrl> Authority(std::string_view text, std::string_view rest, RepoKind kind) {
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
    return BadUrl(text, "has no path on its host");
  }
  std::string_view authority = rest.substr(0, slash);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (kind != RepoKind::kSsh) {
      return BadUrl(text, "carries a user or password: store it as a secret (--repo-secret)");
    }
    authority.remove_prefix(at + 1);
  }
  if (authority.empty() || authority.front() == '-' ||
      !std::all_of(authority.begin(), authority.end(), HostChar)) {
    return BadUrl(text, "does not name a host");
  }
  std::string host(
      authority.substr(0, authority.rfind(':') == std::string_view::npos || authority.front() == '['
                              ? authority.size()
                              : authority.rfind(':')));
  return RepoUrl{kind, std::string(text), host, std::string(rest.substr(slash))};
}

Result<void> CheckRefText(std::string_view ref, std::string_view what) {
  auto bad = [&](std::string why) {
    return MakeError(ErrorCode::kBadRequest,
                     std::string(what) + " \"" + std::string(ref.substr(0, 80)) + "\" " + why);
  };
  if (ref.empty() || ref.size() > 255) return bad("must be 1 to 255 characters");
  if (ref.front() == '-' || ref.front() == '/' || ref.back() == '/' || ref.back() == '.') {
    return bad("may not start with '-' or '/', nor end with '/' or '.'");
  }
  if (!Printable(ref)) return bad("may not hold spaces or control characters");
  for (std::string_view bad_part :
       {"..", "@{", "//", "\\", "~", "^", ":", "?", "*", "[", ".lock"}) {
    if (ref.find(bad_part) != std::string_view::npos) {
      return bad("may not hold \"" + std::string(bad_part) + "\"");
    }
  }
  return {};
}

}  // namespace

Result<RepoUrl> ParseRepoUrl(std::string_view text) {
  if (text.empty()) return BadUrl(text, "is empty");
  if (text.size() > kMaxUrl) return BadUrl(text, "is longer than 2048 bytes");
  if (!Printable(text)) return BadUrl(text, "holds spaces or control characters");
  if (text.front() == '-') return BadUrl(text, "starts with '-' (an option, not a repository)");
  struct Scheme {
    std::string_view prefix;
    RepoKind kind;
  };
  for (const Scheme& s : {Scheme{"https://", RepoKind::kHttps}, Scheme{"http://", RepoKind::kHttp},
                          Scheme{"ssh://", RepoKind::kSsh}, Scheme{"git://", RepoKind::kGit}}) {
    if (text.starts_with(s.prefix)) return Authority(text, text.substr(s.prefix.size()), s.kind);
  }
  std::string_view local = text;
  if (text.starts_with("file://")) {
    local = text.substr(7);
    if (!local.starts_with("/")) return BadUrl(text, "is a file:// URL without an absolute path");
  }
  if (local.starts_with("/")) {
    if (HasDotDot(local)) return BadUrl(text, "has a \"..\" part");
    return RepoUrl{RepoKind::kLocal, std::string(local), "", std::string(local)};
  }
  if (text.find("::") != std::string_view::npos || text.find("://") != std::string_view::npos) {
    return BadUrl(text,
                  "uses a transport autovibe does not allow: use https://, ssh://, git://, "
                  "user@host:path, file:// or an absolute path");
  }
  // The scp-like form: [user@]host:path, the host before any '/'.
  const size_t colon = text.find(':');
  const size_t slash = text.find('/');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon)) {
    return BadUrl(text, "is not a URL, user@host:path or an absolute path");
  }
  std::string_view host = text.substr(0, colon);
  if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  const std::string_view path = text.substr(colon + 1);
  if (host.empty() || host.front() == '-' || !std::all_of(host.begin(), host.end(), HostChar)) {
    return BadUrl(text, "does not name a host");
  }
  if (path.empty() || path.front() == '-') return BadUrl(text, "has no path on its host");
  return RepoUrl{RepoKind::kSsh, std::string(text), std::string(host), std::string(path)};
}

Result<void> CheckLocalRepo(const RepoUrl& url, const std::vector<std::string>& roots) {
  if (url.kind != RepoKind::kLocal) return {};
  for (const std::string& root : roots) {
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    if (r == "/" || url.path == r || url.path.starts_with(r + "/")) return {};
  }
  if (roots.empty()) {
    return MakeError(ErrorCode::kBadUrl, "local repository " + url.path.substr(0, 120) +
                                             " refused: this controller allows no local "
                                             "repositories ([repos] local_roots)");
  }
  std::string list;
  for (const auto& r : roots) list += (list.empty() ? "" : ", ") + r;
  return MakeError(ErrorCode::kBadUrl, "local repository " + url.path.substr(0, 120) +
                                           " is outside the allowed roots (" + list + ")");
}

Result<void> CheckRepoRef(std::string_view ref) { return CheckRefText(ref, "ref"); }
Result<void> CheckBranchName(std::string_view branch) { return CheckRefText(branch, "branch"); }

std::optional<GitAuthor> ParseAuthor(std::string_view text) {
  if (text.empty() || text.size() > 200) return std::nullopt;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  const size_t open = text.find('<');
  if (open == std::string_view::npos || open == 0 || !text.ends_with(">")) return std::nullopt;
  std::string_view name = text.substr(0, open);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  const std::string_view email = text.substr(open + 1, text.size() - open - 2);
  if (name.empty() || email.empty() || email.find_first_of("<> ") != std::string_view::npos ||
      name.find_first_of("<>") != std::string_view::npos) {
    return std::nullopt;
  }
  return GitAuthor{std::string(name), std::string(email)};
}

}  // namespace autovibe
