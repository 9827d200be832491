// Test support: clients that begin HTTP requests and never finish them (slowloris), and a
// timed GET on a fresh connection, for the servers' connection caps and head deadlines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace autovibe::testing {

// `count` TCP connections to 127.0.0.1:`port`, each of which has sent `partial` (part of a
// request's head) and then nothing. They come from `sources` loopback addresses, 127.0.0.2 on,
// in turn (a server caps connections per client address), and are made by `users` in turn
// when some are given (the metering proxy caps them per user; making a socket as another
// user needs root), else by this process's user. Closed when this goes.
class HalfSentRequests {
 public:
  // Raises this process's open-files limit to fit them. A connection that cannot be made or
  // that the server closes at once still counts in `count`.
  HalfSentRequests(uint16_t port, int count, int sources, const std::string& partial,
                   const std::vector<uid_t>& users = {});
  ~HalfSentRequests();
  HalfSentRequests(const HalfSentRequests&) = delete;
  HalfSentRequests& operator=(const HalfSentRequests&) = delete;

  // The connections the server has not closed (nor answered): still held open.
  int StillOpen() const;
  // Whether the i-th connection (in the order made) is still open.
  bool Open(int i) const;

 private:
  std::vector<int> fds_;  // -1 for a connection that could not be made
};

struct TimedAnswer {
  int status = 0;    // 0: no answer
  std::string text;  // the whole answer, head and body
  double ms = 0;     // from before the connect to the end of the answer
};

// Sends `request` (whole, as bytes) on a new connection to 127.0.0.1:`port` from `source`
// and reads the answer until the server closes the connection or `deadline` passes.
TimedAnswer TimedRequest(uint16_t port, const std::string& request,
                         std::chrono::milliseconds deadline = std::chrono::seconds(5),
                         const std::string& source = "127.0.0.1");

// "GET `path`" with Connection: close, through TimedRequest.
TimedAnswer TimedGet(uint16_t port, const std::string& path,
                     std::chrono::milliseconds deadline = std::chrono::seconds(5),
                     const std::string& source = "127.0.0.1");

}  // namespace autovibe::testing
