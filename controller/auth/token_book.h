// API tokens: made with a role and an optional project scope, shown once, kept as SHA-256
// hashes (ApiTokenStore), revoked by name. The bootstrap admin token (<data-dir>/admin.token)
// is not one of them: it stays outside the book and no token may take its name, "admin".
//
// A token reads "avt_" and 64 hex digits (256 random bits): recognisable in a leaked file or
// log, and too random to guess, so one unsalted SHA-256 of it is enough to keep.
//
// Owner-thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/model/api_token.h"
#include "controller/store/store.h"

namespace autovibe {

inline constexpr std::string_view kApiTokenPrefix = "avt_";
inline constexpr std::string_view kBootstrapTokenName = "admin";
inline constexpr size_t kMaxApiTokenNameBytes = 64;
inline constexpr size_t kMaxApiTokens = 1000;
inline constexpr size_t kMaxApiTokenProjects = 100;
inline constexpr Duration kMaxApiTokenTtl = std::chrono::hours(24 * 3650);

struct TokenBookDeps {
  ApiTokenStore* store = nullptr;
  const Clock* clock = nullptr;
  // Whether a project of that name exists: a token may only be limited to existing ones.
  std::function<bool(std::string_view)> project_exists;
};

// What a new token is to be.
struct NewApiToken {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> projects;  // empty: every project
  Duration ttl{0};                    // 0: it never expires
};

// What its creator gets, this once.
struct CreatedApiToken {
  ApiToken token;      // as kept: its hash, never its secret
  std::string secret;  // "avt_<64 hex>"
};

// kBadRequest unless `name` is 1-64 of [A-Za-z0-9._-] starting with a letter or digit, and not
// the bootstrap token's name.
Result<void> ValidateApiTokenName(std::string_view name);

class TokenBook {
 public:
  explicit TokenBook(TokenBookDeps deps) : deps_(std::move(deps)) {}

  // Reads the kept tokens. Errors: store, corrupt.
  Result<void> Load();

  // Makes a token and keeps its hash; the secret is in the answer only. Errors, with nothing
  // kept: bad_request (a bad name, an unknown or repeated project, a ttl not above 0 or over
  // 10 years, too many projects), conflict (the name is taken, or there are kMaxApiTokens),
  // store.
  Result<CreatedApiToken> Create(NewApiToken req);

  // Forgets a token: from now on it is refused. Errors: not_found, conflict (the bootstrap
  // token, which lives in admin.token), store.
  Result<void> Revoke(std::string_view name);

  // Oldest first.
  std::vector<const ApiToken*> List() const;

  // The token `secret` is, its use noted (kept at most once a minute). Every kept hash is
  // compared, in constant time. Errors: unauthorized (no such token; expired, saying so).
  Result<const ApiToken*> Authenticate(std::string_view secret);

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    ApiToken token;
    Digest digest{};
    int64_t kept_last_used_ms = 0;  // what the store holds
  };
  Result<void> CheckProjects(const std::vector<std::string>& projects) const;
  void NoteUse(Entry& e);

  TokenBookDeps deps_;
  std::vector<Entry> entries_;  // oldest first
};

}  // namespace autovibe
