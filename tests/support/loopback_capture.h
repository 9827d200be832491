// Test support: what crosses the loopback interface to and from one TCP port, captured with an
// AF_PACKET socket on `lo` (needs root or CAP_NET_RAW), for tests that check what an
// eavesdropper on the wire would read.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace autovibe::testing {

class LoopbackCapture {
 public:
  // Starts capturing the TCP payloads of segments from or to `port` on 127.0.0.1.
  explicit LoopbackCapture(uint16_t port);
  ~LoopbackCapture();
  LoopbackCapture(const LoopbackCapture&) = delete;
  LoopbackCapture& operator=(const LoopbackCapture&) = delete;

  // Whether the socket could be opened: false without the privilege (the test then skips).
  bool ok() const { return fd_ >= 0; }
  // Whether `text` appears within one captured segment's payload.
  bool Saw(const std::string& text);
  // Bytes of payload captured so far.
  size_t Bytes();

 private:
  void Run();

  uint16_t port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string payloads_;  // each segment's payload, separated by a NUL
  std::thread thread_;
};

}  // namespace autovibe::testing
