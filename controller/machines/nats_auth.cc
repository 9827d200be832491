#include "controller/machines/nats_auth.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "common/bus/bus.h"
#include "common/core/files.h"
#include "common/core/ids.h"

namespace autovibe {
namespace {

bool PlainText(const std::string& s) {
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || static_cast<unsigned char>(c) < 0x20) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<void> ValidateNatsAuthOptions(const NatsAuthOptions& o) {
  if (o.controller_user.empty() || o.controller_password.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     "nats_auth_file needs the controller's own nats_user and nats_password");
  }
  if (!PlainText(o.controller_user) || !PlainText(o.controller_password)) {
    return MakeError(ErrorCode::kBadConfig,
                     "nats_user and nats_password may not contain quotes, backslashes or "
                     "control characters when the controller writes the server's users");
  }
  if (o.controller_user.starts_with("m-") || o.controller_user.starts_with("j-")) {
    return MakeError(ErrorCode::kBadConfig,
                     "nats_user may not start with \"m-\" or \"j-\": machines and join tokens "
                     "use those");
  }
  return {};
}

NatsAuth::NatsAuth(Store& store, const Clock& clock, NatsAuthOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Result<void> NatsAuth::Load(std::map<std::string, std::string> join_users) {
  auto loaded = store_.LoadCredentials();
  if (!loaded) return loaded.error();
  passwords_.clear();
  for (auto& [id, pw] : *loaded) passwords_[id] = std::move(pw);
  join_users_ = std::move(join_users);
  return WriteAndReload();
}

Result<std::pair<std::string, std::string>> NatsAuth::Mint(const std::string& machine_id) {
  std::string password = NewSecret(24);
  if (auto r = store_.SaveCredential(machine_id, password, clock_.NowMs()); !r) return r.error();
  passwords_[machine_id] = password;
  if (auto r = WriteAndReload(); !r) return r.error();
  return std::pair{machine_id, std::move(password)};
}

void NatsAuth::Forget(const std::string& machine_id) {
  if (passwords_.erase(machine_id) == 0) return;
  if (auto r = store_.DeleteCredential(machine_id); !r) {
    spdlog::error("nats auth cannot forget {}: {}", machine_id, r.error().message);
  }
  if (auto r = WriteAndReload(); !r) {
    spdlog::error("nats auth cannot remove the user of {}: {}", machine_id, r.error().message);
  }
}

Result<void> NatsAuth::AllowJoin(const std::string& token_id, const std::string& secret) {
  join_users_[token_id] = secret;
  return WriteAndReload();
}

Result<void> NatsAuth::EndJoins(const std::vector<std::string>& token_ids) {
  size_t ended = 0;
  for (const auto& id : token_ids) ended += join_users_.erase(id);
  if (ended == 0) return {};
  return WriteAndReload();
}

std::string NatsAuth::Render() const {
  const Subjects subjects(options_.subject_prefix);
  std::string out =
      "# Written by autovibe-controller: one user per machine, each allowed only its own\n"
      "# subjects. Changes by hand are overwritten.\n"
      "authorization {\n  users = [\n";
  out += "    {user: \"" + options_.controller_user + "\", password: \"" +
         options_.controller_password + "\"}\n";
  for (const auto& [id, pw] : passwords_) {
    out += "    {user: \"" + id + "\", password: \"" + pw + "\", permissions: {\n";
    out += "      publish: {allow: [\"" + subjects.RegisterAs(id) + "\", \"" +
           subjects.Heartbeat(id) + "\", \"" + subjects.Events(id) + "\", \"" + subjects.Lease(id) +
           "\", \"$JS.API.STREAM.INFO." + options_.events_stream +
           // Answers to the controller's requests, on its inboxes (random, unguessable
           // subjects): allow_responses alone loses them when nats-server reloads its users
           // while a request is in flight.
           "\", \"" + std::string(kInboxPrefix) + ".>\"]},\n";
    out += "      subscribe: {allow: [\"" + subjects.Command(id) + "\", \"" + subjects.Inbox(id) +
           ".>\"]},\n";
    out += "      allow_responses: true\n    }}\n";
  }
  // A join token may ask to join, and hear the answer, and nothing else.
  for (const auto& [id, secret] : join_users_) {
    out += "    {user: \"" + id + "\", password: \"" + secret + "\", permissions: {\n";
    out += "      publish: {allow: [\"" + subjects.Join(id) + "\"]},\n";
    out += "      subscribe: {allow: [\"" + subjects.Inbox(id) + ".>\"]}\n    }}\n";
  }
  out += "  ]\n}\n";
  return out;
}

Result<void> NatsAuth::WriteAndReload() {
  if (auto r = WriteFileAtomic(options_.auth_file, Render(), 0600); !r) return r.error();
  if (options_.pid_file.empty()) return {};
  auto text = ReadFile(options_.pid_file);
  if (!text)
    return MakeError(ErrorCode::kUnavailable, "cannot read nats-server's pid file " +
                                                  options_.pid_file + ": " + text.error().message);
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), pid);
  if (ec != std::errc() || pid <= 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "nats-server's pid file " + options_.pid_file + " holds no pid");
  }
  // A stale pid file may name another program by now: SIGHUP would end it.
  auto comm = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!comm || comm->substr(0, comm->find('\n')) != "nats-server") {
    return MakeError(ErrorCode::kUnavailable, "pid " + std::to_string(pid) + " in " +
                                                  options_.pid_file + " is not nats-server");
  }
  if (kill(pid, SIGHUP) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot make nats-server (pid " +
                                                  std::to_string(pid) +
                                                  ") reload its users: " + std::strerror(errno));
  }
  return {};
}

Result<void> NatsAuth::AwaitLogin(const std::string& url, const std::string& user,
                                  const std::string& password, const BusTls& tls, Duration within) {
  Result<void> r;
  const auto deadline = std::chrono::steady_clock::now() + within;
  do {
    r = CheckNatsLogin(url, user, password, std::chrono::milliseconds(500), tls);
    if (r) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  return MakeError(ErrorCode::kUnavailable,
                   "nats-server did not accept the machine's new credentials within " +
                       FormatDuration(within) + ": " + r.error().message);
}

}  // namespace autovibe
