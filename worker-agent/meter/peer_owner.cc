#include "worker-agent/meter/peer_owner.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// An address as inet_diag spells it: IPv4 in the first word, IPv6 in all four, network order.
// A v4-mapped IPv6 address (a dual-stack listener's IPv4 client) is the IPv4 socket it is.
int Spell(asio::ip::address a, __be32 (&out)[4]) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  if (a.is_v4()) {
    const auto bytes = a.to_v4().to_bytes();
    std::memcpy(&out[0], bytes.data(), bytes.size());
    return AF_INET;
  }
  const auto bytes = a.to_v6().to_bytes();
  std::memcpy(out, bytes.data(), bytes.size());
  return AF_INET6;
}

Error Unavailable(const std::string& what) {
  return MakeError(ErrorCode::kUnavailable, "socket diagnostics: " + what);
}

// The question about the client's end of a connection, whose ends are `ours` and `theirs`.
struct Question {
  nlmsghdr header;
  inet_diag_req_v2 request;
};

std::optional<Question> Ask(const tcp::endpoint& ours, const tcp::endpoint& theirs,
                            uint32_t sequence) {
  // The client's socket, seen from its side: its source is our peer, its destination us.
  Question q{};
  q.header.nlmsg_len = sizeof(q);
  q.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  q.header.nlmsg_flags = NLM_F_REQUEST;  // one exact lookup, not a dump
  q.header.nlmsg_seq = sequence;
  inet_diag_req_v2& r = q.request;
  r.sdiag_family = static_cast<__u8>(Spell(theirs.address(), r.id.idiag_src));
  if (Spell(ours.address(), r.id.idiag_dst) != r.sdiag_family) return std::nullopt;
  r.sdiag_protocol = IPPROTO_TCP;
  r.idiag_states = ~0u;
  r.id.idiag_sport = htons(theirs.port());
  r.id.idiag_dport = htons(ours.port());
  r.id.idiag_cookie[0] = r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  return q;
}

// The kernel's answer to `q`: the socket's owner, or why not.
Result<uid_t> Answer(const nlmsghdr* h, const Question& q) {
  if (h->nlmsg_type == NLMSG_ERROR) {
    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
    return Unavailable(std::strerror(-e->error));  // ENOENT: no such socket here
  }
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || NLMSG_PAYLOAD(h, 0) < sizeof(inet_diag_msg)) {
    return Unavailable("an answer of type " + std::to_string(h->nlmsg_type));
  }
  const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
  // Looked up by its ports: the socket that answers is the client's, not our own end.
  if (m->id.idiag_sport != q.request.id.idiag_sport ||
      m->id.idiag_dport != q.request.id.idiag_dport) {
    return Unavailable("the answer is about another socket");
  }
  return static_cast<uid_t>(m->idiag_uid);
}

}  // namespace

PeerOwner::~PeerOwner() { Close(); }

void PeerOwner::Close() {
  if (netlink_ >= 0) close(netlink_);
  netlink_ = -1;
}

Result<uid_t> PeerOwner::UidOf(const tcp::socket& accepted) {
  boost::system::error_code ec;
  const tcp::endpoint ours = accepted.local_endpoint(ec);
  if (ec) return MakeError(ErrorCode::kIo, "the connection has no address: " + ec.message());
  const tcp::endpoint theirs = accepted.remote_endpoint(ec);
  if (ec) return MakeError(ErrorCode::kIo, "the connection has no peer: " + ec.message());
  const std::optional<Question> q = Ask(ours, theirs, ++sequence_);
  if (!q) return Unavailable("the connection's ends are of two address families");

  if (netlink_ < 0) {
    netlink_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (netlink_ < 0) return Unavailable(std::strerror(errno));
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(netlink_, &*q, sizeof(*q), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) <
      0) {
    const int e = errno;
    Close();
    return Unavailable(std::strerror(e));
  }
  // The kernel answers a lookup as it takes the question: the answer is queued by now. One
  // left over from an earlier question (none should be) is passed over.
  alignas(nlmsghdr) char answer[1024];
  for (;;) {
    const ssize_t n = recv(netlink_, answer, sizeof(answer), MSG_DONTWAIT);
    if (n < 0) {
      const int e = errno;
      Close();  // a channel out of step (or overrun) starts afresh
      return Unavailable(e == EAGAIN ? "no answer" : std::strerror(e));
    }
    const auto* h = reinterpret_cast<const nlmsghdr*>(answer);
    if (!NLMSG_OK(h, static_cast<size_t>(n))) continue;
    if (h->nlmsg_seq == q->header.nlmsg_seq) return Answer(h, *q);
  }
}

bool MayPresent(const MeteredTask& task, const Peer& peer) {
  if (task.own_listener) return peer.task_listener == task.task_id;
  if (!task.uid) return true;
  return peer.task_listener.empty() && peer.uid == task.uid;
}

std::optional<MeteredTask> TaskForPeer(CallLedger& ledger, std::string_view token,
                                       const Peer& peer) {
  std::optional<MeteredTask> task = ledger.TaskForToken(token);
  if (!task || MayPresent(*task, peer)) return task;
  const std::string from = !peer.task_listener.empty()
                               ? "on the listener of task " + peer.task_listener
                           : peer.uid ? "from uid " + std::to_string(*peer.uid)
                                      : "from a connection whose user is unknown";
  spdlog::warn("meter: refused a call with the token of task {} {}: it is bound to {}",
               task->task_id, from,
               task->own_listener ? "the task's own listener"
                                  : "uid " + std::to_string(task->uid.value_or(0)));
  return std::nullopt;
}

}  // namespace autovibe::meter
