// Bus credentials per machine (DESIGN.md: an agent may publish only on its own subjects and
// subscribe only to its own av.cmd.<m>). The controller mints a NATS user for every machine it
// provisions, keeps the users' passwords in its store, writes nats-server's authorization block
// to a file the server's config includes, and makes the server reload it (SIGHUP to the pid in
// the server's pid file).
//
// Owner-thread only.
#pragma once

#include <map>
#include <string>
#include <utility>

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
  // the store after a restart.
  Result<void> Load();
  // A new user for the machine: (user, password). The server has been told to reload when this
  // returns; CheckNatsLogin tells when it has.
  Result<std::pair<std::string, std::string>> Mint(const std::string& machine_id);
  // The machine is gone: its user is removed.
  void Forget(const std::string& machine_id);

  // The authorization block as written to the file.
  std::string Render() const;

  // Blocks (on a provisioning thread) until nats-server accepts `user` at `url`, which it does
  // a few milliseconds after a reload; gives up after `within`. Errors: unavailable.
  static Result<void> AwaitLogin(const std::string& url, const std::string& user,
                                 const std::string& password,
                                 Duration within = std::chrono::seconds(5));

 private:
  Result<void> WriteAndReload();

  Store& store_;
  const Clock& clock_;
  NatsAuthOptions options_;
  std::map<std::string, std::string> passwords_;  // machine id -> password
};

// Checks the options: a controller user and password without characters the server's config
// syntax would need escaped. Errors: bad_config.
Result<void> ValidateNatsAuthOptions(const NatsAuthOptions& options);

}  // namespace autovibe
