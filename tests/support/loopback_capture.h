// Test support: what crosses the loopback interface to and from one TCP port, captured with
// an AF_PACKET socket on `lo` (needs root, or CAP_NET_RAW), as tcpdump would see it. For
// tests that check a secret never crosses in the clear.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace autovibe::testing {

class LoopbackCapture {
 public:
  // Starts capturing TCP segments from or to `port` on `lo` (IPv4 and IPv6). Throws when the
  // socket cannot be made (not root).
  explicit LoopbackCapture(uint16_t port);
  ~LoopbackCapture();
  LoopbackCapture(const LoopbackCapture&) = delete;
  LoopbackCapture& operator=(const LoopbackCapture&) = delete;

  // Stops capturing (idempotent); what was caught so far stays.
  void Stop();
  // The TCP payloads caught, in the order seen (each segment twice on `lo`: sent and
  // received).
  std::string Payloads() const;
  // Segments caught from or to the port (with or without payload).
  uint64_t segments() const { return segments_; }
  // Whether the socket is open (the constructor throws when it cannot be made).
  bool ok() const { return fd_ >= 0; }
  // Whether `text` appears in the payloads caught so far.
  bool Saw(const std::string& text) const { return Payloads().find(text) != std::string::npos; }
  // Bytes of payload caught so far.
  size_t Bytes() const { return Payloads().size(); }

 private:
  void Run();

  uint16_t port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> segments_{0};
  mutable std::mutex mu_;
  std::string payloads_;
  std::thread thread_;
};

}  // namespace autovibe::testing
