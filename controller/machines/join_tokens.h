// One-time join tokens: how an agent started by hand, by Terraform or by cloud-init gets a bus
// user of its own. A token is created by an admin (`autovibe machines join-token create`),
// shown once, kept in the store, and is a bus user itself while live (NatsAuth) that may only
// ask to join. Claiming it mints a fresh machine id and that machine's bus user, and uses the
// token up; used and expired tokens lose their bus user at the next Tick.
//
// Owner-thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/machines/nats_auth.h"
#include "controller/model/audit_log.h"
#include "controller/model/join_token.h"
#include "controller/store/store.h"

namespace autovibe {

struct JoinTokensOptions {
  // A configured pool's labels, which a machine joining with a token of that pool carries;
  // a token may also name a pool the controller does not provision (pool=<name> only).
  std::map<std::string, std::map<std::string, std::string>> pool_labels;
  Duration default_ttl = std::chrono::hours(1);
  Duration max_ttl = std::chrono::hours(24 * 30);
  // How long a used token's bus user stays: the answer to its join request is delivered
  // before the server drops the connection that asked, and an agent whose answer was lost
  // (a reload of nats-server, a cut connection) may ask again and hear the same one.
  Duration used_grace = std::chrono::seconds(60);
  // Whether a machine has registered. Until its machine has, within the grace, a used token
  // asked again gives the same answer (its first was lost); once it has, the token's bus user
  // goes at the next Tick. Unset: no second answer, and the user goes after the grace.
  std::function<bool(const std::string&)> registered;
  // Used and expired tokens are forgotten this long after they ended.
  Duration keep_ended = std::chrono::hours(24 * 7);
  // Machines enrolled with a token, and tokens refused, are written here; may be null.
  AuditLog* audit = nullptr;
};

// What a token's creator gets, once.
struct CreatedJoinToken {
  std::string id;
  std::string token;  // "<id>.<secret>": what the agent is given
  std::string pool;
  int64_t expires_at_ms = 0;
};

// What a claim gives the joining machine.
struct JoinGrant {
  std::string machine_id;
  std::string nats_user;
  std::string nats_password;
  std::map<std::string, std::string> labels;
};

class JoinTokens {
 public:
  JoinTokens(Store& store, const Clock& clock, NatsAuth& auth, JoinTokensOptions options);

  // Loads the tokens and writes the bus users (machines' and live tokens'), reloading the
  // server.
  Result<void> Load();

  // A new token; `ttl` 0 means the default. Its bus user exists when this returns (the
  // server reloads a few milliseconds later). Errors: bad_request (pool name, ttl), store.
  Result<CreatedJoinToken> Create(const std::string& pool, Duration ttl);

  // Uses the token up: a new machine id and its bus user. Asked again within the grace, while
  // that machine has not registered, the same answer is given again: only the token's holder
  // can ask, and its first answer was lost. Errors: not_found (no such token), conflict
  // (already used, or expired), store, unavailable (the server's users file).
  Result<JoinGrant> Claim(const std::string& token_id);

  // Removes the bus users of tokens used (once their machine registered, or after the grace)
  // or expired, and forgets tokens that
  // ended long ago. Returns how many bus users went.
  size_t Tick();

  const JoinToken* Find(const std::string& id) const;
  size_t live() const;

 private:
  Store& store_;
  const Clock& clock_;
  NatsAuth& auth_;
  JoinGrant GrantOf(const JoinToken& t, std::string user, std::string password) const;
  // Claim of a token that exists.
  Result<JoinGrant> ClaimKnown(JoinToken& t);

  JoinTokensOptions options_;
  std::map<std::string, JoinToken> tokens_;
};

}  // namespace autovibe
