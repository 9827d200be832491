#include "tests/support/loopback_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

namespace autovibe::testing {

LoopbackCapture::LoopbackCapture(uint16_t port) : port_(port) {
  fd_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (fd_ < 0) return;
  sockaddr_ll at{};
  at.sll_family = AF_PACKET;
  at.sll_protocol = htons(ETH_P_IP);
  at.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  timeval wait{0, 100'000};  // the thread looks at stop_ this often
  if (at.sll_ifindex == 0 || bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

LoopbackCapture::~LoopbackCapture() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
}

void LoopbackCapture::Run() {
  std::string frame(70000, '\0');
  while (!stop_) {
    const ssize_t n = recv(fd_, frame.data(), frame.size(), 0);
    // lo frames carry an Ethernet header (zero addresses), then IPv4, then TCP.
    if (n < static_cast<ssize_t>(ETH_HLEN + sizeof(iphdr))) continue;
    const auto* ip = reinterpret_cast<const iphdr*>(frame.data() + ETH_HLEN);
    if (ip->protocol != IPPROTO_TCP) continue;
    const size_t ip_len = ip->ihl * 4u;
    const size_t tcp_at = ETH_HLEN + ip_len;
    if (static_cast<size_t>(n) < tcp_at + sizeof(tcphdr)) continue;
    const auto* tcp = reinterpret_cast<const tcphdr*>(frame.data() + tcp_at);
    if (ntohs(tcp->source) != port_ && ntohs(tcp->dest) != port_) continue;
    const size_t data_at = tcp_at + tcp->doff * 4u;
    const size_t end = std::min<size_t>(n, ETH_HLEN + ntohs(ip->tot_len));
    if (data_at >= end) continue;
    std::lock_guard lock(mu_);
    payloads_.append(frame.data() + data_at, end - data_at);
    payloads_.push_back('\0');
  }
}

bool LoopbackCapture::Saw(const std::string& text) {
  std::lock_guard lock(mu_);
  return payloads_.find(text) != std::string::npos;
}

size_t LoopbackCapture::Bytes() {
  std::lock_guard lock(mu_);
  return payloads_.size();
}

}  // namespace autovibe::testing
