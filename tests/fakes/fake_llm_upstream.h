// A scriptable stand-in for an LLM provider (Anthropic or OpenAI), for the metering proxy's
// tests: the real providers cannot be reached from here, and a test must not spend money.
// Each request is answered as the test's script says: any status, headers and body, sent in
// pieces that are flushed one by one (as a provider streams events), after a delay if asked,
// optionally holding back the rest until the test releases it, or dropping the connection
// unanswered. Plain HTTP or HTTPS with a certificate the test made. Records every request and
// connection.
//
// Runs on its own thread with its own io_context. Public methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/result.h"

namespace autovibe::testing {

struct FakeLlmRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int connection = 0;  // which connection carried it, counting from 1
};

struct FakeLlmAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // The body, written and flushed a piece at a time. Chunked, or with a Content-Length.
  std::vector<std::string> pieces;
  bool chunked = false;
  // After writing this many pieces, wait for Release() (or the client hanging up).
  size_t hold_after = SIZE_MAX;
  // Wait this long after reading the request before answering (or dropping the connection):
  // a provider still working on a long call.
  std::chrono::milliseconds delay{0};
  // Close the connection after reading the request, answering nothing.
  bool drop = false;
  // After writing this many pieces, close the connection without the body's end (a provider
  // whose server dies mid-answer).
  size_t cut_after = SIZE_MAX;
};

class FakeLlmUpstream {
 public:
  using Script = std::function<FakeLlmAnswer(const FakeLlmRequest&)>;

  explicit FakeLlmUpstream(Script script);
  ~FakeLlmUpstream();
  FakeLlmUpstream(const FakeLlmUpstream&) = delete;
  FakeLlmUpstream& operator=(const FakeLlmUpstream&) = delete;

  // Listens on 127.0.0.1 (a free port). With a certificate and key (PEM files) it speaks TLS.
  Result<void> Start(const std::string& cert_file = "", const std::string& key_file = "");
  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT", or "https://localhost:PORT" with TLS.
  std::string url() const;

  // Lets every held answer (and every later one) send the rest of its pieces.
  void Release();

  std::vector<FakeLlmRequest> requests() const;
  int connections() const;
  // Held answers whose client hung up while they waited.
  int hangups() const;

 private:
  struct Server;

  Script script_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  bool tls_ = false;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<FakeLlmRequest> requests_;  // guarded by mu_
  int connections_ = 0;                   // guarded by mu_
  int hangups_ = 0;                       // guarded by mu_
};

}  // namespace autovibe::testing
