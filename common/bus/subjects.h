// The bus's subjects and stream (DESIGN.md, "Bus protocol"), spelled once for the controller,
// the agent and nats-server's per-machine permissions. `<p>` is the subject prefix ("av"),
// `<m>` a machine id.
#pragma once

#include <string>
#include <string_view>

namespace autovibe {

// The JetStream stream agents' events go to, and the controller's durable consumer of it.
inline constexpr std::string_view kEventsStream = "AV_EVENTS";
inline constexpr std::string_view kEventsConsumer = "controller";
// Reply subjects of requests; a machine with credentials of its own answers on
// "_INBOX_<m>" (BusOptions::inbox_prefix).
inline constexpr std::string_view kInboxPrefix = "_INBOX";

class Subjects {
 public:
  explicit Subjects(std::string_view prefix = "av") : p_(prefix) {}

  std::string Register() const { return p_ + ".register"; }  // any agent
  std::string RegisterAs(std::string_view m) const { return Of("register", m); }
  std::string Heartbeat(std::string_view m) const { return Of("hb", m); }
  std::string Events(std::string_view m) const { return Of("evt", m); }
  std::string Command(std::string_view m) const { return Of("cmd", m); }
  std::string Lease(std::string_view m) const { return Of("lease", m); }
  // A one-time join token's request subject: "<p>.join.<token id>".
  std::string Join(std::string_view token_id) const { return Of("join", token_id); }
  std::string Inbox(std::string_view m) const {
    return std::string(kInboxPrefix) + "_" + std::string(m);
  }

  // What the controller subscribes to: one machine-level wildcard per kind.
  std::string AnyRegisterAs() const { return Of("register", "*"); }
  std::string AnyHeartbeat() const { return Of("hb", "*"); }
  std::string AnyLease() const { return Of("lease", "*"); }
  std::string AnyJoin() const { return Of("join", "*"); }
  std::string AllEvents() const { return p_ + ".evt.>"; }

  // The machine a subject of one kind names ("" when it is not of that kind, or names none):
  // MachineIn("hb", "av.hb.m-1") is "m-1".
  std::string MachineIn(std::string_view kind, std::string_view subject) const {
    const std::string head = p_ + "." + std::string(kind) + ".";
    if (!subject.starts_with(head)) return "";
    std::string_view m = subject.substr(head.size());
    return m.find('.') == std::string_view::npos ? std::string(m) : "";
  }

  const std::string& prefix() const { return p_; }

 private:
  std::string Of(std::string_view kind, std::string_view m) const {
    return p_ + "." + std::string(kind) + "." + std::string(m);
  }

  std::string p_;
};

// Whether a request's reply subject is an inbox (the controller answers nowhere else, so a
// machine cannot make it publish into another machine's subjects).
inline bool IsInbox(std::string_view reply) { return reply.starts_with(kInboxPrefix); }

// Whether `reply` lies under the inbox prefix of `owner` (a machine id, or a join token's id):
// "_INBOX_<owner>.". With bus users on, the controller answers a request on a subject of
// `owner` nowhere else, so one machine cannot have answers delivered into another's inboxes.
inline bool IsInboxOf(std::string_view reply, std::string_view owner) {
  const std::string head = std::string(kInboxPrefix) + "_" + std::string(owner) + ".";
  return !owner.empty() && reply.starts_with(head) && reply.size() > head.size();
}

// Whether the controller may answer a request from `owner` on `reply`: an inbox always, and
// with bus users on (`own_inboxes_only`) the owner's own inboxes only.
inline bool MayAnswer(std::string_view reply, std::string_view owner, bool own_inboxes_only) {
  return own_inboxes_only ? IsInboxOf(reply, owner) : IsInbox(reply);
}

}  // namespace autovibe
