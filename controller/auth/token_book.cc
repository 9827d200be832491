#include "controller/auth/token_book.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/core/ids.h"

namespace autovibe {
namespace {

// A token's use is written down at most this often: a request is not a database write.
constexpr int64_t kLastUsedEveryMs = 60'000;

std::array<unsigned char, 32> Sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

std::string Hex(const std::array<unsigned char, 32>& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(d.size() * 2);
  for (unsigned char c : d) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// The digest a kept hash spells; all zero for a damaged one, which no token matches.
std::array<unsigned char, 32> FromHex(std::string_view hex) {
  std::array<unsigned char, 32> d{};
  if (hex.size() != 64) return d;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < d.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return {};
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

Result<void> ValidateApiTokenName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= kMaxApiTokenNameBytes && NameChar(name[0]) &&
                  name[0] != '.' && name[0] != '_' && name[0] != '-' &&
                  std::all_of(name.begin(), name.end(), NameChar);
  if (!ok) {
    return MakeError(ErrorCode::kBadRequest,
                     "a token name is 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit");
  }
  if (name == kBootstrapTokenName) {
    return MakeError(ErrorCode::kBadRequest,
                     "\"admin\" is the bootstrap token's name (admin.token); choose another");
  }
  // The audit log's own actors: a token of that name could pass for them.
  if (name == "controller" || name == "anonymous") {
    return MakeError(ErrorCode::kBadRequest, "\"" + std::string(name) +
                                                 "\" names the audit log's own actors; choose "
                                                 "another");
  }
  return {};
}

Result<void> TokenBook::Load() {
  auto kept = deps_.store->LoadApiTokens();
  if (!kept) return kept.error();
  entries_.clear();
  for (ApiToken& t : *kept) {
    const Digest digest = FromHex(t.hash);
    const int64_t used = t.last_used_at_ms;
    entries_.push_back(Entry{std::move(t), digest, used});
  }
  return {};
}

Result<void> TokenBook::CheckProjects(const std::vector<std::string>& projects) const {
  if (projects.size() > kMaxApiTokenProjects) {
    return MakeError(ErrorCode::kBadRequest, "a token is limited to at most 100 projects, not " +
                                                 std::to_string(projects.size()));
  }
  std::set<std::string_view> seen;
  for (const std::string& p : projects) {
    if (!seen.insert(p).second) {
      return MakeError(ErrorCode::kBadRequest, "project " + p.substr(0, 80) + " is named twice");
    }
    if (!deps_.project_exists || !deps_.project_exists(p)) {
      return MakeError(ErrorCode::kBadRequest, "no project named " + p.substr(0, 80) +
                                                   "; create it first (autovibe project create)");
    }
  }
  return {};
}

Result<CreatedApiToken> TokenBook::Create(NewApiToken req) {
  if (auto r = ValidateApiTokenName(req.name); !r) return r.error();
  if (auto r = CheckProjects(req.projects); !r) return r.error();
  if (req.ttl.count() < 0 || req.ttl > kMaxApiTokenTtl) {
    return MakeError(ErrorCode::kBadRequest,
                     "a token's lifetime is above 0 and at most 3650d (10 years)");
  }
  for (const Entry& e : entries_) {
    if (e.token.name == req.name) {
      return MakeError(ErrorCode::kConflict, "a token named " + req.name +
                                                 " exists; revoke it first or choose another name");
    }
  }
  if (entries_.size() >= kMaxApiTokens) {
    return MakeError(ErrorCode::kConflict,
                     "there are 1000 tokens already; revoke some before making more");
  }
  const int64_t now = deps_.clock->NowMs();
  CreatedApiToken made;
  made.secret = std::string(kApiTokenPrefix) + NewSecret(32);
  const Digest digest = Sha256(made.secret);
  made.token = ApiToken{.name = std::move(req.name),
                        .role = req.role,
                        .projects = std::move(req.projects),
                        .hash = Hex(digest),
                        .created_at_ms = now,
                        .expires_at_ms = req.ttl.count() == 0 ? 0 : now + req.ttl.count()};
  if (auto r = deps_.store->InsertApiToken(made.token); !r) return r.error();
  entries_.push_back(Entry{made.token, digest, 0});
  spdlog::info("api token created name={} role={} projects={} expires_at={}", made.token.name,
               ToString(made.token.role), made.token.projects.size(),
               FormatRfc3339(made.token.expires_at_ms));
  return made;
}

Result<void> TokenBook::Revoke(std::string_view name) {
  if (name == kBootstrapTokenName) {
    return MakeError(ErrorCode::kConflict,
                     "the bootstrap admin token lives in <data-dir>/admin.token: replace that "
                     "file and restart the controller to change it");
  }
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.token.name == name; });
  if (it == entries_.end()) {
    return MakeError(ErrorCode::kNotFound, "no token named " + std::string(name.substr(0, 80)));
  }
  if (auto r = deps_.store->DeleteApiToken(name); !r) return r.error();
  entries_.erase(it);
  spdlog::info("api token revoked name={}", name);
  return {};
}

std::vector<const ApiToken*> TokenBook::List() const {
  std::vector<const ApiToken*> out;
  for (const Entry& e : entries_) out.push_back(&e.token);
  return out;
}

Result<const ApiToken*> TokenBook::Authenticate(std::string_view secret) {
  const Digest digest = Sha256(secret);
  Entry* found = nullptr;
  // No early exit: every kept hash is compared, the match or not.
  for (Entry& e : entries_) {
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) found = &e;
  }
  if (found == nullptr || !secret.starts_with(kApiTokenPrefix)) {
    return MakeError(ErrorCode::kUnauthorized, "invalid bearer token");
  }
  const int64_t now = deps_.clock->NowMs();
  if (found->token.expired(now)) {
    return MakeError(ErrorCode::kUnauthorized, "token " + found->token.name + " expired at " +
                                                   FormatRfc3339(found->token.expires_at_ms));
  }
  found->token.last_used_at_ms = now;
  NoteUse(*found);
  return &found->token;
}

void TokenBook::NoteUse(Entry& e) {
  if (e.token.last_used_at_ms - e.kept_last_used_ms < kLastUsedEveryMs) return;
  // Losing this note loses nothing but a time shown in `token list`.
  if (auto r = deps_.store->SetApiTokenLastUsed(e.token.name, e.token.last_used_at_ms); !r) {
    spdlog::warn("api token {}: could not note its use: {}", e.token.name, r.error().message);
    return;
  }
  e.kept_last_used_ms = e.token.last_used_at_ms;
}

}  // namespace autovibe
