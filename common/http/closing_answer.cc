// Apart from server.cc, so the agent (whose proxy refuses connections with it) links this
// alone (common/CMakeLists.txt).
#include <boost/beast/http/status.hpp>

#include "common/http/http.h"

namespace autovibe {

std::string ClosingAnswerBytes(const HttpResponse& r) {
  namespace http = boost::beast::http;
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(r.status))) +
                    "\r\nContent-Type: " + r.content_type + "\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n";
  out += r.body;
  return out;
}

}  // namespace autovibe
