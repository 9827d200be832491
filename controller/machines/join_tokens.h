// One-time join tokens: how an agent started by hand, by Terraform or by cloud-init gets a bus
// user of its own. A token is created by an admin (`autovibe machines join-token create`),
// shown once, kept in the store, and is a bus user itself while live (NatsAuth) that may only
// ask to join. Claiming it mints a fresh machine id and that machine's bus user, and uses the
// token up; used and expired tokens lose their bus user at the next Tick.
//
// Owner-thread only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/machines/nats_auth.h"
#include "controller/model/join_token.h"
#include "controller/store/store.h"

namespace autovibe {

struct JoinTokensOptions {
  // A configured pool's labels, which a machine joining with a token of that pool carries;
  // a token may also name a pool the controller does not provision (pool=<name> only).
  std::map<std::string, std::map<std::string, std::string>> pool_labels;
  Duration default_ttl = std::chrono::hours(1);
  Duration max_ttl = std::chrono::hours(24 * 30);
  // How long a used token's bus user stays, so the answer to its join request is delivered
  // before the server drops the connection that asked.
  Duration used_grace = std::chrono::seconds(2);
  // Used and expired tokens are forgotten this long after they ended.
  Duration keep_ended = std::chrono::hours(24 * 7);
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

  // Uses the token up: a new machine id and its bus user. Errors: not_found (no such token),
  // conflict (already used, or expired), store, unavailable (the server's users file).
  Result<JoinGrant> Claim(const std::string& token_id);

  // Removes the bus users of tokens used (after the grace) or expired, and forgets tokens that
  // ended long ago. Returns how many bus users went.
  size_t Tick();

  const JoinToken* Find(const std::string& id) const;
  size_t live() const;

 private:
  Store& store_;
  const Clock& clock_;
  NatsAuth& auth_;
  JoinTokensOptions options_;
  std::map<std::string, JoinToken> tokens_;
};

}  // namespace autovibe
