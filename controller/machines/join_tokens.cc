#include "controller/machines/join_tokens.h"

#include <spdlog/spdlog.h>

#include "common/core/ids.h"
#include "common/core/names.h"

namespace autovibe {

JoinTokens::JoinTokens(Store& store, const Clock& clock, NatsAuth& auth, JoinTokensOptions options)
    : store_(store), clock_(clock), auth_(auth), options_(std::move(options)) {}

Result<void> JoinTokens::Load() {
  auto loaded = store_.join_tokens().LoadJoinTokens();
  if (!loaded) return loaded.error();
  tokens_.clear();
  const int64_t now = clock_.NowMs();
  std::map<std::string, std::string> live;
  for (JoinToken& t : *loaded) {
    if (t.live(now)) live[t.id] = t.secret;
    tokens_[t.id] = std::move(t);
  }
  return auth_.Load(std::move(live));
}

Result<CreatedJoinToken> JoinTokens::Create(const std::string& pool, Duration ttl) {
  if (!pool.empty() && !ValidMachineName(pool)) {
    return MakeError(
        ErrorCode::kBadRequest,
        "pool must be 1-63 letters, digits, '.', '_' or '-', got \"" + pool.substr(0, 80) + "\"");
  }
  if (ttl.count() == 0) ttl = options_.default_ttl;
  if (ttl < std::chrono::seconds(1) || ttl > options_.max_ttl) {
    return MakeError(ErrorCode::kBadRequest,
                     "ttl must be from 1s to " + FormatDuration(options_.max_ttl));
  }
  const int64_t now = clock_.NowMs();
  JoinToken t{.id = NewId("j"),
              .secret = NewSecret(24),
              .pool = pool,
              .created_at_ms = now,
              .expires_at_ms = now + ttl.count()};
  if (auto r = store_.join_tokens().SaveJoinToken(t); !r) return r.error();
  if (auto r = auth_.AllowJoin(t.id, t.secret); !r) return r.error();
  CreatedJoinToken out{t.id, t.id + "." + t.secret, t.pool, t.expires_at_ms};
  spdlog::info("join token created id={} pool={} expires_at={}", t.id, t.pool,
               FormatRfc3339(t.expires_at_ms));
  tokens_[t.id] = std::move(t);
  return out;
}

Result<JoinGrant> JoinTokens::Claim(const std::string& token_id) {
  auto it = tokens_.find(token_id);
  if (it == tokens_.end()) {
    return MakeError(ErrorCode::kNotFound, "join token " + token_id.substr(0, 40) + " is unknown");
  }
  JoinToken& t = it->second;
  const bool was_used = t.used();
  auto granted = ClaimKnown(t);
  // The same answer asked again (the first was lost) enrolls nobody new.
  if (granted && was_used) return granted;
  AuditRecord r =
      Decision("join_token", "machine.enroll", "machine", granted ? granted->machine_id : "");
  r.details = DetailsJson({{"join_token", t.id}, {"pool", t.pool}});
  if (!granted) {
    r.result = "error";
    r.error = granted.error().message;
  }
  Audit(options_.audit, std::move(r));
  return granted;
}

Result<JoinGrant> JoinTokens::ClaimKnown(JoinToken& t) {
  const int64_t now = clock_.NowMs();
  if (t.used()) {
    const bool in_grace = now - t.used_at_ms < options_.used_grace.count();
    if (in_grace && options_.registered && !options_.registered(t.machine_id)) {
      if (const std::string* password = auth_.PasswordOf(t.machine_id)) {
        spdlog::info("join token {} asked again before machine {} registered: same answer", t.id,
                     t.machine_id);
        return GrantOf(t, t.machine_id, *password);
      }
    }
    return MakeError(ErrorCode::kConflict, "join token " + t.id + " was already used (by machine " +
                                               t.machine_id + " at " + FormatRfc3339(t.used_at_ms) +
                                               "); create a new one");
  }
  if (t.expired(now)) {
    return MakeError(ErrorCode::kConflict, "join token " + t.id + " expired at " +
                                               FormatRfc3339(t.expires_at_ms) +
                                               "; create a new one");
  }
  JoinToken used = t;
  used.used_at_ms = now;
  used.machine_id = NewId("m");
  auto creds = auth_.Mint(used.machine_id);
  if (!creds) return creds.error();
  if (auto r = store_.join_tokens().SaveJoinToken(used); !r) {
    auth_.Forget(used.machine_id);
    return r.error();
  }
  t = used;
  spdlog::info("join token used id={} machine_id={}", t.id, t.machine_id);
  return GrantOf(t, creds->first, creds->second);
}

JoinGrant JoinTokens::GrantOf(const JoinToken& t, std::string user, std::string password) const {
  JoinGrant g{.machine_id = t.machine_id,
              .nats_user = std::move(user),
              .nats_password = std::move(password)};
  if (!t.pool.empty()) {
    if (auto p = options_.pool_labels.find(t.pool); p != options_.pool_labels.end()) {
      g.labels = p->second;
    }
    g.labels["pool"] = t.pool;
  }
  return g;
}

size_t JoinTokens::Tick() {
  const int64_t now = clock_.NowMs();
  std::vector<std::string> end, forget;
  for (const auto& [id, t] : tokens_) {
    const bool used_long_enough =
        t.used() && (now - t.used_at_ms >= options_.used_grace.count() ||
                     (options_.registered && options_.registered(t.machine_id)));
    if ((used_long_enough || t.expired(now)) && auth_.JoinAllowed(id)) end.push_back(id);
    const int64_t ended_at = t.used() ? t.used_at_ms : t.expires_at_ms;
    if ((t.used() || t.expired(now)) && now - ended_at >= options_.keep_ended.count()) {
      forget.push_back(id);
    }
  }
  if (auto r = auth_.EndJoins(end); !r) {
    spdlog::error("cannot remove the bus users of ended join tokens: {}", r.error().message);
    return 0;
  }
  for (const auto& id : forget) {
    if (auto r = store_.join_tokens().DeleteJoinToken(id); !r) {
      spdlog::error("cannot forget join token {}: {}", id, r.error().message);
      continue;
    }
    tokens_.erase(id);
  }
  return end.size();
}

const JoinToken* JoinTokens::Find(const std::string& id) const {
  auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : &it->second;
}

size_t JoinTokens::live() const {
  const int64_t now = clock_.NowMs();
  size_t n = 0;
  for (const auto& [id, t] : tokens_) n += t.live(now) ? 1 : 0;
  return n;
}

}  // namespace autovibe
