#include "tests/bench/fresh_client.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>
#include <sstream>

#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// One call on a new connection, closed after the answer. Returns false on any failure.
bool CallOnce(asio::io_context& ioc, const tcp::endpoint& to,
              const http::request<http::string_body>& req) {
  boost::system::error_code ec;
  tcp::socket socket(ioc);
  socket.connect(to, ec);
  if (ec) return false;
  socket.set_option(tcp::no_delay(true), ec);
  http::write(socket, req, ec);
  if (ec) return false;
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  socket.close();
  return !ec && res.result_int() == 200;
}

int64_t Nanos(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string CallBody(const std::string& id) {
  return R"({"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,)"
         R"("metadata":{"user_id":")" +
         id + R"("},"messages":[{"role":"user","content":"Say hello in one short sentence."}]})";
}

int ServeFreshClient(const FreshClientArgs& args) {
  auto url = boost::urls::parse_uri(args.url);
  if (!url) return 1;
  asio::io_context ioc;
  boost::system::error_code ec;
  tcp::endpoint to(asio::ip::make_address(url->host(), ec),
                   static_cast<uint16_t>(std::stoi(std::string(url->port()))));
  if (ec) return 1;
  testing::SocketsOwnedBy as_the_task(args.uid);
  std::vector<FreshCall> measured;
  measured.reserve(args.calls);
  for (int i = 0; i < args.warmup + args.calls; ++i) {
    const bool warm = i < args.warmup;
    std::string id = fmt::format("{}-{}{}", args.id_prefix, warm ? "w" : "m", i);
    http::request<http::string_body> req{http::verb::post, "/v1/messages?beta=true", 11};
    req.set(http::field::host, std::string(url->encoded_host_and_port()));
    req.set("x-api-key", args.key);
    req.set("anthropic-version", "2023-06-01");
    req.set(http::field::content_type, "application/json");
    req.body() = CallBody(id);
    req.prepare_payload();
    const auto start = SteadyClock::now();
    if (!CallOnce(ioc, to, req)) {
      std::fprintf(stderr, "fresh client: call %s failed\n", id.c_str());
      return 1;
    }
    if (!warm) measured.push_back({std::move(id), start, SteadyClock::now()});
  }
  for (const FreshCall& c : measured) {
    std::printf("call %s %lld %lld\n", c.id.c_str(), static_cast<long long>(Nanos(c.start)),
                static_cast<long long>(Nanos(c.end)));
  }
  std::fflush(stdout);
  return 0;
}

std::vector<std::string> FreshClientArgv(const FreshClientArgs& args) {
  return {"--fresh-client", args.url,
          "--fresh-key",    args.key,
          "--calls",        std::to_string(args.calls),
          "--warmup",       std::to_string(args.warmup),
          "--fresh-prefix", args.id_prefix,
          "--fresh-uid",    std::to_string(args.uid)};
}

std::optional<std::vector<FreshCall>> RunFreshClient(const std::string& self,
                                                     const FreshClientArgs& args,
                                                     const std::string& log,
                                                     std::chrono::milliseconds deadline) {
  std::vector<std::string> argv = {self};
  for (std::string& a : FreshClientArgv(args)) argv.push_back(std::move(a));
  std::remove(log.c_str());
  testing::ChildProcess child(std::move(argv), log);
  if (child.Wait(deadline) != 0) return std::nullopt;
  std::vector<FreshCall> out;
  std::istringstream in(child.Log());
  std::string word, id;
  long long start = 0, end = 0;
  while (in >> word) {
    if (word != "call") continue;
    if (!(in >> id >> start >> end)) break;
    out.push_back({id, SteadyClock::time_point(std::chrono::nanoseconds(start)),
                   SteadyClock::time_point(std::chrono::nanoseconds(end))});
  }
  return out;
}

}  // namespace autovibe::bench
