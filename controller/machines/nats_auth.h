// Bus credentials per machine (DESIGN.md: an agent may publish only on its own subjects and
// subscribe only to its own av.cmd.<m>). The controller mints a NATS user for every machine it
// provisions or enrols, keeps the users' passwords in its store, writes nats-server's
// authorization block to a file the server's config includes, and makes the server reload it
// (SIGHUP to the pid in the server's pid file). Each live one-time join token is a user too,
// allowed only to ask to join on its own subject and to read its own inboxes.
//
// Owner-thread only.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/bus/bus.h"
#include "common/bus/subjects.h"
#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/store/store.h"

namespace autovibe {

struct NatsAuthOptions {
  std::string auth_file;  // written by the controller, included by nats-server's config
  std::string pid_file;   // nats-server's pid_file; empty: the file is written, not reloaded
  std::string controller_user;
  std::string controller_password;
  std::string subject_prefix = "av";
  std::string events_stream = std::string(kEventsStream);
};

class NatsAuth {
 public:
  NatsAuth(Store& store, const Clock& clock, NatsAuthOptions options);

  // Loads the machines' credentials and writes the file (reloading the server), so it matches
  // the store after a restart. `join_users`: the live join tokens, id -> secret.
  Result<void> Load(std::map<std::string, std::string> join_users = {});
  // A new user for the machine: (user, password). The server has been told to reload when this
  // returns; CheckNatsLogin tells when it has.
  Result<std::pair<std::string, std::string>> Mint(const std::string& machine_id);
  // The machine's bus password, or null when it has no user.
  const std::string* PasswordOf(const std::string& machine_id) const {
    auto it = passwords_.find(machine_id);
    return it == passwords_.end() ? nullptr : &it->second;
  }
  // The machine is gone: its user is removed.
  void Forget(const std::string& machine_id);

  // A join token's user: it may publish only on <p>.join.<id> and read only _INBOX_<id>.>.
  Result<void> AllowJoin(const std::string& token_id, const std::string& secret);
  // Those join tokens' users are removed (one reload). Ids without a user are skipped.
  Result<void> EndJoins(const std::vector<std::string>& token_ids);
  bool JoinAllowed(const std::string& token_id) const { return join_users_.count(token_id) > 0; }

  // The authorization block as written to the file.
  std::string Render() const;

  // Blocks (on a provisioning thread) until nats-server accepts `user` at `url`, which it does
  // a few milliseconds after a reload; gives up after `within`. Errors: unavailable.
  static Result<void> AwaitLogin(const std::string& url, const std::string& user,
                                 const std::string& password, const BusTls& tls = {},
                                 Duration within = std::chrono::seconds(5));

 private:
  Result<void> WriteAndReload();

  Store& store_;
  const Clock& clock_;
  NatsAuthOptions options_;
  std::map<std::string, std::string> passwords_;   // machine id -> password
  std::map<std::string, std::string> join_users_;  // join token id -> secret
};

// Checks the options: a controller user and password without characters the server's config
// syntax would need escaped, and a name no machine or join token can have. Errors: bad_config.
Result<void> ValidateNatsAuthOptions(const NatsAuthOptions& options);

}  // namespace autovibe
