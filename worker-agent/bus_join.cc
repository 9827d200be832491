#include "worker-agent/bus_join.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <sstream>
#include <thread>

#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "common/bus/subjects.h"
#include "common/core/config_file.h"
#include "common/core/files.h"

namespace autovibe {
namespace {

constexpr auto kJoinTimeout = std::chrono::seconds(10);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
constexpr auto kNewTokenGrace = std::chrono::seconds(10);
// How long the new user may take to be accepted (the controller reloads nats-server first).
constexpr auto kLoginWait = std::chrono::seconds(15);

bool Hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool MachineId(std::string_view id) {
  return id.size() == 14 && id.starts_with("m-") && Hex(id.substr(2));
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

Error Refused(const std::string& token_id, const Error& e) {
  return MakeError(ErrorCode::kUnauthorized,
                   "the bus refused join token " + token_id +
                       ": it is unknown, already used or expired (a token enrols one machine, "
                       "once, before its ttl ends); create a new one with `autovibe machines "
                       "join-token create` (" +
                       e.message + ")");
}

// One join request under the token's own user. Errors: unauthorized, the controller's
// refusal, and unavailable/timeout/no_responders (worth trying again).
Result<BusUser> AskToJoin(const AgentConfig& c, const std::string& id, const std::string& secret) {
  if (auto r = CheckNatsLogin(c.nats_url, id, secret, std::chrono::seconds(5), c.nats_tls); !r) {
    if (r.error().code == ErrorCode::kUnauthorized) return Refused(id, r.error());
    return r.error();
  }
  auto bus = ConnectNats({.url = c.nats_url,
                          .name = "autovibe-agent " + c.name + " (joining)",
                          .user = id,
                          .password = secret,
                          .inbox_prefix = std::string(kInboxPrefix) + "_" + id,
                          .tls = c.nats_tls});
  if (!bus) return bus.error();
  v1::JoinRequest req;
  req.set_name(c.name);
  auto raw =
      (*bus)->Request(Subjects(c.subject_prefix).Join(id), req.SerializeAsString(), kJoinTimeout);
  if (!raw) return raw.error();
  v1::JoinReply reply;
  if (!reply.ParseFromString(*raw)) {
    return MakeError(ErrorCode::kBadData, "the controller sent an undecodable join reply");
  }
  if (!reply.error().empty()) {
    return MakeError(ErrorCode::kConflict,
                     "the controller refused join token " + id + ": " + reply.error());
  }
  if (!MachineId(reply.machine_id()) || reply.nats_user().empty() ||
      reply.nats_password().empty()) {
    return MakeError(ErrorCode::kBadData, "the controller's join reply lacks a bus user");
  }
  BusUser u{reply.machine_id(), reply.nats_user(), reply.nats_password(), {}};
  for (const auto& [k, v] : reply.labels()) u.labels[k] = v;
  return u;
}

// Asks until the controller answers; a refusal ends it at once.
Result<BusUser> Join(const AgentConfig& c, const std::string& token) {
  auto parts = SplitJoinToken(token);
  if (!parts) return parts.error();
  const auto& [id, secret] = *parts;
  Duration backoff = std::chrono::milliseconds(250);
  // A token made a moment ago may not be a bus user yet: nats-server reloads its users a few
  // milliseconds after the controller answered.
  const auto refusals_until = std::chrono::steady_clock::now() + kNewTokenGrace;
  for (;;) {
    auto u = AskToJoin(c, id, secret);
    if (u) return u;
    const ErrorCode code = u.error().code;
    const bool early =
        code == ErrorCode::kUnauthorized && std::chrono::steady_clock::now() < refusals_until;
    // A server whose certificate this agent does not trust may be fixed while it waits.
    if (code != ErrorCode::kUnavailable && code != ErrorCode::kTimeout &&
        code != ErrorCode::kNoResponders && code != ErrorCode::kTls && !early) {
      return u.error();
    }
    if (early) {
      spdlog::info("join token {} not accepted yet (a new token takes a moment), retrying", id);
    } else {
      spdlog::warn("agent cannot join yet, retrying in {}ms: {}", backoff.count(),
                   u.error().message);
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<Duration>(backoff * 2, kMaxBackoff);
  }
}

Result<void> AwaitLogin(const AgentConfig& c, const BusUser& u) {
  const auto deadline = std::chrono::steady_clock::now() + kLoginWait;
  for (;;) {
    auto r = CheckNatsLogin(c.nats_url, u.nats_user, u.nats_password, std::chrono::seconds(2),
                            c.nats_tls);
    if (r || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Apply(const BusUser& u, AgentConfig& c) {
  c.machine_id = u.machine_id;
  c.nats_user = u.nats_user;
  c.nats_password = u.nats_password;
  // The agent's own labels win over the token's.
  for (const auto& [k, v] : u.labels) c.labels.emplace(k, v);
}

Result<std::string> TokenOf(const AgentConfig& c) {
  if (!c.join_token.empty()) return Trimmed(c.join_token);
  if (c.join_token_file.empty()) return std::string();
  auto text = ReadFile(c.join_token_file);
  if (!text) {
    return MakeError(ErrorCode::kBadConfig, "cannot read join_token_file " + c.join_token_file +
                                                ": " + text.error().message);
  }
  return Trimmed(*text);
}

}  // namespace

std::string BusUserFile(const std::string& data_dir) { return data_dir + "/bus-user.toml"; }

Result<std::pair<std::string, std::string>> SplitJoinToken(std::string_view token) {
  const size_t dot = token.find('.');
  const std::string_view id = token.substr(0, dot);
  if (dot == std::string_view::npos || id.size() != 14 || !id.starts_with("j-") ||
      !Hex(id.substr(2)) || !Hex(token.substr(dot + 1))) {
    return MakeError(ErrorCode::kBadConfig,
                     "a join token looks like j-0123456789ab.<hex secret>, as `autovibe machines "
                     "join-token create` prints it");
  }
  return std::pair{std::string(id), std::string(token.substr(dot + 1))};
}

Result<BusUser> ReadBusUser(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kNotFound, "no bus user kept at " + path);
  }
  // Kept private whatever made it readable since.
  if ((st.st_mode & 0777) != 0600 && chmod(path.c_str(), 0600) != 0) {
    return MakeError(ErrorCode::kIo, "cannot make " + path + " private (mode 0600)");
  }
  auto text = ReadFile(path);
  if (!text) return text.error();
  BusUser u;
  auto loaded =
      ForEachTomlKey(*text, [&u](std::string_view k, const toml::node& n) -> Result<void> {
        if (k == "machine_id") return TomlString(n, k, u.machine_id);
        if (k == "nats_user") return TomlString(n, k, u.nats_user);
        if (k == "nats_password") return TomlString(n, k, u.nats_password);
        if (k == "labels") return TomlStringTable(n, k, u.labels);
        return UnknownKey(k);
      });
  if (!loaded)
    return MakeError(ErrorCode::kBadConfig, path + " is damaged: " + loaded.error().message);
  if (!MachineId(u.machine_id) || u.nats_user.empty() || u.nats_password.empty()) {
    return MakeError(ErrorCode::kBadConfig,
                     path + " is damaged: it needs machine_id, nats_user and nats_password");
  }
  return u;
}

Result<void> WriteBusUser(const std::string& path, const BusUser& u) {
  toml::table labels;
  for (const auto& [k, v] : u.labels) labels.insert(k, v);
  toml::table t{{"machine_id", u.machine_id},
                {"nats_user", u.nats_user},
                {"nats_password", u.nats_password},
                {"labels", std::move(labels)}};
  std::ostringstream out;
  out << "# This machine's own bus user, got with a one-time join token. Keep it private.\n"
      << t << "\n";
  return WriteFileAtomic(path, out.str(), 0600);
}

Result<void> EnrolOnBus(AgentConfig& c) {
  if (!c.nats_user.empty()) return {};  // named in the config (a provisioned machine)
  const std::string path = BusUserFile(c.data_dir);
  auto kept = ReadBusUser(path);
  if (kept) {
    spdlog::info("agent uses its own bus user machine_id={} from {}", kept->machine_id, path);
    Apply(*kept, c);
    return {};
  }
  if (kept.error().code != ErrorCode::kNotFound) return kept.error();
  auto token = TokenOf(c);
  if (!token) return token.error();
  if (token->empty()) {
    // Fine on an insecure bus; on one with users, say what is missing rather than retry.
    auto open = CheckNatsLogin(c.nats_url, "", "", std::chrono::seconds(2), c.nats_tls);
    if (!open && open.error().code == ErrorCode::kUnauthorized) {
      return MakeError(ErrorCode::kUnauthorized,
                       "the bus at " + c.nats_url +
                           " has users and this agent has none: start it with --join-token "
                           "(autovibe machines join-token create) or join_token_file");
    }
    return {};
  }
  if (auto r = MakeDirs(c.data_dir, 0700); !r) return r.error();
  auto joined = Join(c, *token);
  if (!joined) return joined.error();
  // Kept before it is used: an agent killed now still holds its user when it comes back.
  if (auto r = WriteBusUser(path, *joined); !r) return r.error();
  spdlog::info("agent joined the fleet machine_id={}; its bus user is kept in {}",
               joined->machine_id, path);
  if (auto r = AwaitLogin(c, *joined); !r) {
    return MakeError(r.error().code,
                     "the bus does not accept this machine's new user yet: " + r.error().message);
  }
  Apply(*joined, c);
  return {};
}

}  // namespace autovibe
