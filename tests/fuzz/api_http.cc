// The controller's HTTP API as a client reaches it: raw bytes on a loopback connection to the
// real server (common/http/server.cc: Beast's request parser with the API's limits, the
// target's path and query, the head checked for a token before the body is read, keep-alive
// and pipelined requests), then the API's routing, authentication and JSON bodies
// (controller/api) over the controller's parts and a real SQLite store
// (controller_fixture.h). The admin token is fuzz::kAdminToken.
//
// GET /metrics is the one route left out (answered 404 here): its answer takes nothing from the
// request but renders every counter and latency histogram the API keeps, a few milliseconds
// under the sanitizers, and as those figures change with every input libFuzzer kept adding
// inputs that ask for it (918 of a 4,644-input corpus), until rendering them took most of its
// time and it ran 130 inputs/s. Its text is checked by api_test, metrics_text_test and
// metrics_test (linted by promtool).
//
// Input: the bytes the client sends.
#include "common/http/server.h"
#include "controller/api/responses.h"
#include "tests/fuzz/controller_fixture.h"
#include "tests/fuzz/loopback.h"

using namespace autovibe;

namespace {

HttpServer& Server(fuzz::ControllerFixture& f) {
  static std::unique_ptr<HttpServer> server = [&] {
    HttpServerOptions o;
    o.limits = {.max_connections = 1 << 16, .max_per_client = 1 << 16};
    o.check_head = [&f](const HttpRequest& head) { return f.api->CheckHead(head); };
    auto started = StartHttpServer(f.ioc, o, [&f](const HttpRequest& r) {
      const auto seg = PathSegments(r.path);
      if (seg.size() == 1 && seg[0] == "metrics" && r.method == "GET") {
        return HttpResponse{.status = 404};
      }
      return f.api->Handle(r);
    });
    if (!started) std::abort();
    return std::move(*started);
  }();
  return *server;
}

}  // namespace

AV_FUZZ_TARGET(api_http) {
  auto& f = fuzz::ControllerFixture::Get();
  const uint16_t port = Server(f).port();
  (void)fuzz::Exchange(f.ioc, port, {reinterpret_cast<const char*>(data), size});
  f.Settle();
}
