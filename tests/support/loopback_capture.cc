#include "tests/support/loopback_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace autovibe::testing {
namespace {

uint16_t Port(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The TCP payload of an Ethernet frame (as `lo` gives them) from or to `port`; false when it
// is none of that.
bool TcpPayload(const unsigned char* frame, size_t n, uint16_t port, std::string& out) {
  if (n < ETH_HLEN) return false;
  const uint16_t type = Port(frame + 12);
  const unsigned char* ip = frame + ETH_HLEN;
  size_t left = n - ETH_HLEN;
  size_t ip_header = 0;
  size_t ip_total = 0;
  if (type == ETH_P_IP && left >= 20 && ip[9] == IPPROTO_TCP) {
    ip_header = static_cast<size_t>(ip[0] & 0x0f) * 4;
    ip_total = Port(ip + 2);
  } else if (type == ETH_P_IPV6 && left >= 40 && ip[6] == IPPROTO_TCP) {
    ip_header = 40;
    ip_total = 40 + Port(ip + 4);
  } else {
    return false;
  }
  if (ip_total > left || ip_header + 20 > ip_total) return false;
  const unsigned char* tcp = ip + ip_header;
  if (Port(tcp) != port && Port(tcp + 2) != port) return false;
  const size_t tcp_header = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (ip_header + tcp_header > ip_total) return false;
  out.assign(reinterpret_cast<const char*>(tcp + tcp_header), ip_total - ip_header - tcp_header);
  return true;
}

}  // namespace

LoopbackCapture::LoopbackCapture(uint16_t port) : port_(port) {
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) {
    throw std::runtime_error(std::string("cannot capture on lo (needs root): ") +
                             std::strerror(errno));
  }
  int buffer = 8 << 20;  // room for bursts while the reader is descheduled
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  sockaddr_ll where{};
  where.sll_family = AF_PACKET;
  where.sll_protocol = htons(ETH_P_ALL);
  where.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  if (where.sll_ifindex == 0 ||
      ::bind(fd_, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0) {
    ::close(fd_);
    throw std::runtime_error(std::string("cannot bind to lo: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
}

LoopbackCapture::~LoopbackCapture() {
  Stop();
  ::close(fd_);
}

void LoopbackCapture::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string LoopbackCapture::Payloads() const {
  std::lock_guard lock(mu_);
  return payloads_;
}

void LoopbackCapture::Run() {
  std::vector<unsigned char> frame(1 << 17);  // lo's MTU is 64 KiB
  std::string payload;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd_, frame.data(), frame.size(), MSG_DONTWAIT);
    if (n <= 0) continue;
    if (!TcpPayload(frame.data(), static_cast<size_t>(n), port_, payload)) continue;
    ++segments_;
    std::lock_guard lock(mu_);
    payloads_ += payload;
  }
}

}  // namespace autovibe::testing
