// Who is on the other end of a connection to the metering proxy, and whether they may use the
// token they present (README.md, "Security: what a task can and cannot reach").
//
// A boxed task's token is bound to the task: honoured only from a socket its own user made
// (host network), or only on the listener made for it (proxy-only network, where the task's
// sockets live in a network namespace of its own that the agent cannot look into). A token a
// task leaks (printed into a shared repository, a log) is then worth nothing to another task.
#pragma once

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "worker-agent/meter/call_ledger.h"

namespace autovibe::meter {

// Who owns the client's end of a TCP connection the proxy accepted in its own network namespace
// (loopback), as the kernel's socket diagnostics (NETLINK_SOCK_DIAG) tell it: one exact lookup
// by the connection's addresses and ports, on a netlink socket kept open for the next (making
// one costs twice the lookup). A socket belongs to the user (fsuid) that made it.
//
// Not thread-safe: one per thread (the proxy's). Never blocks.
class PeerOwner {
 public:
  PeerOwner() = default;
  ~PeerOwner();
  PeerOwner(const PeerOwner&) = delete;
  PeerOwner& operator=(const PeerOwner&) = delete;

  // The user owning the other end of `accepted`. Errors: "unavailable" when the kernel cannot
  // be asked (no inet_diag) or does not know the socket (the client is gone, or in another
  // network namespace), "io" when `accepted` has no addresses.
  Result<uid_t> UidOf(const boost::asio::ip::tcp::socket& accepted);

 private:
  void Close();

  int netlink_ = -1;  // opened at the first question; closed when it fails
  uint32_t sequence_ = 0;
};

// Where a connection to the proxy comes from, told once when it is accepted.
struct Peer {
  // The task whose own listener accepted it (proxy-only); empty: the proxy's own listener.
  std::string task_listener;
  // The user owning the client's socket (on the proxy's own listener), when it could be told.
  std::optional<uid_t> uid;
};

// Whether `peer` may use `task`'s token: anyone may use an unbound task's (task_user = "root");
// a task with a listener of its own only on that listener; any other boxed task only from its
// own uid on the proxy's listener.
bool MayPresent(const MeteredTask& task, const Peer& peer);

// The task whose token `token` is, if `peer` may use it; else nullopt, as for a token nobody
// holds (the proxy answers both 401 alike, naming nobody). A refusal of a live task's token is
// logged (warn), naming the task and the peer, for the operator.
std::optional<MeteredTask> TaskForPeer(CallLedger& ledger, std::string_view token,
                                       const Peer& peer);

}  // namespace autovibe::meter
