// Tokens bound to their task (worker-agent/meter/peer_owner.h): who owns the other end of a
// connection, as the kernel tells it, and the proxy honouring a boxed task's token only from
// the task's own user, or only on the task's own listener. Clients of another user are child
// processes that change their ids (the tests run as root).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "tests/support/half_sent.h"
#include "tests/unit/meter_proxy_harness.h"
#include "worker-agent/meter/peer_owner.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;

constexpr uid_t kOtherUid = 61234;
constexpr char kHalfSentCall[] = "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: av-";
constexpr char kCall[] =
    R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]})";

// A process of its own, running as `uid` (ids changed with raw system calls: glibc would walk
// the parent's threads), that runs `body` and writes what it returns to a pipe. Killed and
// reaped when this goes.
class ChildAs {
 public:
  ChildAs(uid_t uid, std::function<std::string()> body) {
    int out[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      close(out[0]);
      if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, uid, uid, uid) != 0 ||
          syscall(SYS_setresuid, uid, uid, uid) != 0) {
        _exit(2);
      }
      const std::string said = body();
      (void)!write(out[1], said.data(), said.size());
      _exit(0);
    }
    close(out[1]);
    out_ = out[0];
  }
  ChildAs(const ChildAs&) = delete;
  ChildAs& operator=(const ChildAs&) = delete;
  ~ChildAs() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(out_);
  }
  // What the body returned (empty if it failed), once it has ended.
  std::string Said() {
    std::string said;
    char buf[4096];
    for (ssize_t n; (n = read(out_, buf, sizeof(buf))) > 0;) said.append(buf, n);
    return said;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// A connected socket to `to` (from `from`, if given), with a deadline on every read and write;
// -1 on failure.
int ConnectTo(const tcp::endpoint& to, std::optional<tcp::endpoint> from = std::nullopt) {
  const int fd = socket(to.protocol().family(), SOCK_STREAM, 0);
  timeval limit{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  if ((from && bind(fd, from->data(), from->size()) != 0) ||
      connect(fd, to.data(), to.size()) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A child's body: connects to `to` and holds the connection until the other end closes it.
std::function<std::string()> HoldConnection(const tcp::endpoint& to) {
  return [to] {
    const int fd = ConnectTo(to);
    char c;
    while (fd >= 0 && read(fd, &c, 1) > 0) {
    }
    return std::string();
  };
}

// The next connection on `acceptor`, within a deadline.
tcp::socket AcceptOne(tcp::acceptor& acceptor) {
  acceptor.non_blocking(true);
  tcp::socket s(acceptor.get_executor());
  boost::system::error_code ec;
  REQUIRE(testing::WaitUntil(
      [&] {
        acceptor.accept(s, ec);
        return !ec;
      },
      10s, 5ms));
  return s;
}

// A messages call with `token` from a process running as `uid`, from the address `source`;
// the answer's status line.
std::string CallAs(uid_t uid, uint16_t port, const std::string& token,
                   const std::string& source = "127.0.0.1") {
  std::ostringstream raw;
  raw << Post("/v1/messages", kCall, AnthropicAuth(token));
  ChildAs child(uid, [port, source, request = raw.str()] {
    const int fd = ConnectTo(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                             tcp::endpoint(asio::ip::make_address(source), 0));
    if (fd < 0 || write(fd, request.data(), request.size()) != ssize_t(request.size())) {
      return std::string();
    }
    char buf[512];
    const ssize_t n = read(fd, buf, sizeof(buf));
    const std::string head(buf, n > 0 ? n : 0);
    return head.substr(0, head.find("\r\n"));
  });
  return child.Said();
}

}  // namespace

TEST_CASE("peer uid: the user that made the client's socket, from the kernel", "[meter]") {
  if (geteuid() != 0) {
    WARN("needs root, to connect as another user");
    return;
  }
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const tcp::endpoint at = acceptor.local_endpoint();

  PeerOwner owner;
  ChildAs other(kOtherUid, HoldConnection(at));
  tcp::socket from_other = AcceptOne(acceptor);
  auto uid = owner.UidOf(from_other);
  REQUIRE(uid);
  CHECK(*uid == kOtherUid);

  // Our own connection is ours, not the accepted end's owner (the same user here) by mistake:
  // the answer is about the client's socket, found by its port.
  tcp::socket mine(ioc);
  mine.connect(at);
  tcp::socket from_me = AcceptOne(acceptor);
  uid = owner.UidOf(from_me);
  REQUIRE(uid);
  CHECK(*uid == geteuid());

  // Over IPv6 the same, where the machine has ::1.
  boost::system::error_code ec;
  tcp::acceptor v6(ioc);
  v6.open(tcp::v6(), ec);
  if (!ec) v6.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
  if (!ec) v6.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    WARN("no IPv6 loopback here: " << ec.message());
  } else {
    ChildAs other6(kOtherUid, HoldConnection(v6.local_endpoint()));
    tcp::socket from_other6 = AcceptOne(v6);
    uid = owner.UidOf(from_other6);
    REQUIRE(uid);
    CHECK(*uid == kOtherUid);
  }
}

TEST_CASE("peer uid: a socket without a peer is an error, not a user", "[meter]") {
  asio::io_context ioc;
  tcp::socket unconnected(ioc, tcp::v4());
  auto uid = PeerOwner().UidOf(unconnected);
  REQUIRE_FALSE(uid);
  CHECK(uid.error().code == ErrorCode::kIo);
}

TEST_CASE("peer binding: who may use a task's token", "[meter]") {
  const MeteredTask unbound{"t-1", 1, "p"};
  const MeteredTask boxed{"t-1", 1, "p", 61001};
  const MeteredTask own_listener{"t-1", 1, "p", 61001, true};
  const Peer task_user{.uid = 61001};
  const Peer other_user{.uid = 61002};
  const Peer root{.uid = 0};
  const Peer unknown{};
  const Peer on_its_listener{.task_listener = "t-1"};
  const Peer on_another_listener{.task_listener = "t-2"};

  for (const Peer& p : {task_user, other_user, root, unknown, on_its_listener}) {
    CHECK(MayPresent(unbound, p));
  }
  CHECK(MayPresent(boxed, task_user));
  CHECK_FALSE(MayPresent(boxed, other_user));
  CHECK_FALSE(MayPresent(boxed, root));  // the agent's user is no task's
  CHECK_FALSE(MayPresent(boxed, unknown));
  CHECK_FALSE(MayPresent(boxed, on_its_listener));  // a uid-bound token is for the proxy's own
  CHECK(MayPresent(own_listener, on_its_listener));
  CHECK_FALSE(MayPresent(own_listener, on_another_listener));
  CHECK_FALSE(MayPresent(own_listener, task_user));  // its user, but not through its listener
}

TEST_CASE("proxy: a boxed task's token is honoured only from the task's user", "[meter]") {
  if (geteuid() != 0) {
    WARN("needs root, to call as another user");
    return;
  }
  ProxyUnderTest proxy(Options("mock"));
  const auto unknown_token =
      CallOnce(proxy.port(), Post("/v1/messages", "{}", AnthropicAuth("nobody-holds-this")));
  REQUIRE(unknown_token.result_int() == 401);

  proxy.ledger().Bind(kOtherUid, false);
  CHECK(CallAs(kOtherUid, proxy.port(), kToken) == "HTTP/1.1 200 OK");
  // From anyone else, root included, the answer is an unknown token's, word for word.
  CHECK(CallAs(kOtherUid + 1, proxy.port(), kToken) == "HTTP/1.1 401 Unauthorized");
  const auto from_root = CallOnce(proxy.port(), Post("/v1/messages", "{}", AnthropicAuth()));
  CHECK(from_root.result_int() == 401);
  CHECK(from_root.body() == unknown_token.body());
  CHECK(proxy.ledger().reserves().size() == 1);  // only the task's own call was reserved
}

TEST_CASE("proxy: a proxy-only task's token is honoured only on its own listener", "[meter]") {
  ProxyUnderTest proxy(Options("mock"));
  const uint16_t its_own = proxy.AlsoAccept("task-1");
  const uint16_t another = proxy.AlsoAccept("task-2");
  proxy.ledger().Bind(geteuid(), true);
  const auto call = Post("/v1/messages", kCall, AnthropicAuth());
  CHECK(CallOnce(its_own, call).result_int() == 200);
  CHECK(CallOnce(another, call).result_int() == 401);
  CHECK(CallOnce(proxy.port(), call).result_int() == 401);  // the proxy's own, from its user
  CHECK(proxy.ledger().reserves().size() == 1);

  // An unbound (task_user = "root") task's token is honoured on any of them.
  proxy.ledger().Bind(std::nullopt, false);
  CHECK(CallOnce(another, call).result_int() == 200);
  CHECK(CallOnce(proxy.port(), call).result_int() == 200);
}

TEST_CASE("proxy connection caps: every task's user can hold its allowance at the same time",
          "[meter]") {
  // A machine of one slot: 256 per user, 4096 in all.
  const ConnectionLimits one = ProxyConnectionLimits(1, false, 1 << 20);
  CHECK(one.max_per_client == 256);
  CHECK(one.max_connections == 4096);
  // Forty slots: room for forty tasks' users and the agent's.
  const ConnectionLimits forty = ProxyConnectionLimits(40, false, 1 << 20);
  CHECK(forty.max_per_client == 256);
  CHECK(forty.max_connections == 41 * 256);
  // Where open files are short (4096, 256 kept), each user's share is cut so all still fit.
  const ConnectionLimits short_of_files = ProxyConnectionLimits(40, false, 4096);
  CHECK(short_of_files.max_connections == 3840);
  CHECK(short_of_files.max_per_client == 3840 / 41);
  const ConnectionLimits very_short = ProxyConnectionLimits(1, false, 100);
  CHECK(very_short.max_connections == 50);
  CHECK(very_short.max_per_client == 25);
  // Tasks that all run as root are one user: it may use all.
  const ConnectionLimits as_root = ProxyConnectionLimits(8, true, 1 << 20);
  CHECK(as_root.max_connections == 4096);
  CHECK(as_root.max_per_client == 4096);
}

TEST_CASE("proxy: a task holding all the connections it may leaves other tasks theirs", "[meter]") {
  if (geteuid() != 0) {
    WARN("needs root, to connect as other users");
    return;
  }
  ProxyOptions options = Options("mock");  // the caps at their defaults
  options.header_timeout = 60s;            // the held heads outlast the test
  ProxyUnderTest proxy(options);
  const size_t allowance = options.limits.max_per_client;
  REQUIRE(allowance == kConnectionsPerUser);
  // One task's user holds its whole allowance open, each connection a head never finished,
  // from 127.0.0.2.
  testing::HalfSentRequests held(proxy.port(), int(allowance), 1, kHalfSentCall, {kOtherUid});
  REQUIRE(held.StillOpen() == int(allowance));

  // Another task's call, from the same address, is answered.
  proxy.ledger().Bind(kOtherUid + 1, false);
  CHECK(CallAs(kOtherUid + 1, proxy.port(), kToken, "127.0.0.2") == "HTTP/1.1 200 OK");
  // The first task's next connection is refused, whatever address it comes from.
  proxy.ledger().Bind(kOtherUid, false);
  CHECK(CallAs(kOtherUid, proxy.port(), kToken) == "HTTP/1.1 503 Service Unavailable");
  CHECK(CallAs(kOtherUid, proxy.port(), kToken, "127.0.0.3") == "HTTP/1.1 503 Service Unavailable");
  CHECK(held.StillOpen() == int(allowance));
  CHECK(proxy.ledger().reserves().size() == 1);
}

TEST_CASE("proxy: a proxy-only task's own listener holds one user's allowance in all", "[meter]") {
  ProxyUnderTest proxy(Options("mock"));
  const uint16_t its_own = proxy.AlsoAccept("task-1");
  const int allowance = int(kConnectionsPerUser);
  // From 8 addresses, as a task could from its network namespace's loopback: the listener is
  // full at the allowance, and the heads that have waited longest are closed to make room.
  testing::HalfSentRequests held(its_own, allowance + 8, 8, kHalfSentCall);
  REQUIRE(testing::WaitUntil([&] { return held.StillOpen() == allowance; }, 10s));
  CHECK_FALSE(held.Open(0));
  CHECK(held.Open(allowance + 7));
}

}  // namespace autovibe::meter
