// A blocking HTTP/1.1 client for the CLI, provisioners and tests (http:// and https:// URLs).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct HttpCall {
  std::string method = "GET";
  std::string url;  // "http://127.0.0.1:8080/v1/machines"
  std::string bearer_token;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{10'000};
  // More request headers, e.g. {"x-api-key", "..."}; they replace ones of the same name.
  std::vector<std::pair<std::string, std::string>> headers;
  // https: the server's certificate is checked against the system's CAs, or `ca_file` when
  // set; `verify_tls` false skips the check (a self-signed Proxmox, say).
  std::string ca_file;
  bool verify_tls = true;
  // https: the server's certificate must have this SHA-256 fingerprint (hex, pairs joined by
  // ':' or not); it is then trusted whoever issued it (a self-signed server), if in date.
  // Replaces the CA check. Nothing is sent before it is checked.
  std::string pin_sha256;
};

// Error codes: kBadUrl, kUnavailable (connection refused, DNS, timeout), kTls (the
// handshake or the certificate failed: the message says what was expected and what the
// server showed), kBadRequest (a pin that is not a fingerprint), kIo.
Result<HttpReply> SendHttp(const HttpCall& call);

}  // namespace autovibe
