#include "tests/support/half_sent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "tests/support/process.h"

namespace autovibe::testing {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in Loopback(const std::string& address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  return a;
}

// A TCP socket belonging to `user`, or to this process's user; -1 on failure.
int SocketOf(std::optional<uid_t> user) {
  std::optional<SocketsOwnedBy> as_user;
  if (user) as_user.emplace(*user);
  return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

// A blocking connection from `source` to 127.0.0.1:port, made by `user`; -1 on failure.
int Connect(const std::string& source, uint16_t port, std::optional<uid_t> user = std::nullopt) {
  int fd = SocketOf(user);
  if (fd < 0) return -1;
  sockaddr_in from = Loopback(source, 0);
  sockaddr_in to = Loopback("127.0.0.1", port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

void FitOpenFiles(size_t more) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  rlim_t want = std::min<rlim_t>(r.rlim_max, r.rlim_cur + more);
  if (want > r.rlim_cur) {
    r.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

HalfSentRequests::HalfSentRequests(uint16_t port, int count, int sources,
                                   const std::string& partial, const std::vector<uid_t>& users) {
  FitOpenFiles(static_cast<size_t>(count) + 64);
  fds_.reserve(count);
  for (int i = 0; i < count; ++i) {
    const std::string source = "127.0.0." + std::to_string(2 + i % std::max(sources, 1));
    std::optional<uid_t> user;
    if (!users.empty()) user = users[static_cast<size_t>(i) % users.size()];
    int fd = Connect(source, port, user);
    if (fd >= 0 && !SendAll(fd, partial)) {
      ::close(fd);
      fd = -1;
    }
    fds_.push_back(fd);
  }
}

HalfSentRequests::~HalfSentRequests() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

bool HalfSentRequests::Open(int i) const {
  int fd = fds_.at(i);
  if (fd < 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int HalfSentRequests::StillOpen() const {
  int open = 0;
  for (size_t i = 0; i < fds_.size(); ++i) open += Open(static_cast<int>(i)) ? 1 : 0;
  return open;
}

TimedAnswer TimedRequest(uint16_t port, const std::string& request,
                         std::chrono::milliseconds deadline, const std::string& source) {
  TimedAnswer out;
  const auto start = Clock::now();
  const auto end = start + deadline;
  int fd = Connect(source, port);
  if (fd < 0) return out;
  if (SendAll(fd, request)) {
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.text.append(buf, static_cast<size_t>(n));
    }
  }
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  ::close(fd);
  // "HTTP/1.1 200 OK"
  if (out.text.size() > 12 && out.text.starts_with("HTTP/1.")) {
    out.status = std::atoi(out.text.c_str() + 9);
  }
  return out;
}

TimedAnswer TimedGet(uint16_t port, const std::string& path, std::chrono::milliseconds deadline,
                     const std::string& source) {
  return TimedRequest(port,
                      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                      deadline, source);
}

}  // namespace autovibe::testing
