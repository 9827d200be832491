// A one-time join token: what lets an agent started by hand, by Terraform or by cloud-init
// enrol and get a bus user of its own (DESIGN.md, `POST /v1/machines/join-tokens`).
#pragma once

#include <cstdint>
#include <string>

namespace autovibe {

struct JoinToken {
  std::string id;      // "j-<12 hex>": the token's bus user and its subject av.join.<id>
  std::string secret;  // the token's bus password; the token a user holds is "<id>.<secret>"
  std::string pool;    // the joined machine carries pool=<pool> ("" : none)
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  int64_t used_at_ms = 0;  // 0: not used yet
  std::string machine_id;  // the machine it enrolled, once used

  bool used() const { return used_at_ms != 0; }
  bool expired(int64_t now_ms) const { return now_ms >= expires_at_ms; }
  // It may still enrol a machine.
  bool live(int64_t now_ms) const { return !used() && !expired(now_ms); }
};

}  // namespace autovibe
