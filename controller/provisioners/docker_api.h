// A small client of the Docker Engine API over its unix socket (HTTP/1.1 on Boost.Beast).
// Blocking: called from provisioning threads only.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

struct DockerReply {
  int status = 0;
  std::string body;
};

class DockerApi {
 public:
  // `socket`: the daemon's socket path ("/var/run/docker.sock") or a unix:// URL.
  explicit DockerApi(std::string socket);

  // `target` is the path and query ("/containers/create?name=x"); `body` JSON, or empty.
  // Errors: unavailable (no daemon at the socket, a broken answer, the deadline passed).
  Result<DockerReply> Call(std::string_view method, const std::string& target,
                           const std::string& body = "",
                           std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
};

// The daemon's error message from a reply body ({"message": "..."}), else the body itself.
std::string DockerMessage(const DockerReply& r);

}  // namespace autovibe
