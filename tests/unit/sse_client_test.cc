// Server-Sent Events: the parser on its own, and the client against a hand-written server.
#include "common/http/sse_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace autovibe {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::vector<SseEvent> ParseAll(std::string_view stream, size_t piece_size) {
  std::vector<SseEvent> events;
  SseParser parser;
  for (size_t i = 0; i < stream.size(); i += piece_size) {
    parser.Feed(stream.substr(i, piece_size), [&](const SseEvent& e) {
      events.push_back(e);
      return true;
    });
  }
  return events;
}

// Serves one connection on a loopback port: reads the request head, then runs `script` with
// the socket on its own thread. The thread is joined on destruction.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(tcp::socket&)> script)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        thread_([this, script = std::move(script)] {
          tcp::socket socket(ioc_);
          acceptor_.accept(socket);
          asio::streambuf head;
          asio::read_until(socket, head, "\r\n\r\n");
          request_ = std::string(asio::buffers_begin(head.data()), asio::buffers_end(head.data()));
          script(socket);
        }) {}
  ~OneShotServer() { thread_.join(); }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  // The request as received; valid once the script has started.
  const std::string& request() const { return request_; }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::string request_;
  std::thread thread_;
};

void Write(tcp::socket& socket, std::string_view text) { asio::write(socket, asio::buffer(text)); }

// Waits until the client closes its end, so a test knows the client stopped by itself.
void WaitForClose(tcp::socket& socket) {
  char byte;
  boost::system::error_code ec;
  while (!ec) socket.read_some(asio::buffer(&byte, 1), ec);
}

// "<hex size>\r\n<data>\r\n": one piece of a chunked body.
std::string Chunk(std::string_view data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + std::string(data) + "\r\n";
}

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";

HttpCall Get(const std::string& url) {
  HttpCall call;
  call.url = url;
  call.bearer_token = "tok";
  call.timeout = 5s;
  return call;
}

}  // namespace

TEST_CASE("sse parser: events in pieces of any size, any line ending", "[sse]") {
  const std::string stream =
      ": keep-alive\n\n"
      "event: log\r\ndata: {\"seq\":1}\r\n\r\n"
      "id: 7\rdata:first\rdata: second\r\r"
      "event: state\ndata\n\n"
      "event: nodata\n\n"
      "retry: 100\nunknown: x\ndata:  two spaces\n\n";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{5}, stream.size()}) {
    INFO("piece size " << piece);
    auto events = ParseAll(stream, piece);
    REQUIRE(events.size() == 4);
    CHECK(events[0].event == "log");
    CHECK(events[0].data == "{\"seq\":1}");
    CHECK(events[0].id.empty());
    CHECK(events[1].event == "message");
    CHECK(events[1].data == "first\nsecond");
    CHECK(events[1].id == "7");
    CHECK(events[2].event == "state");
    CHECK(events[2].data.empty());
    CHECK(events[2].id == "7");  // the last id carries over
    CHECK(events[3].data == " two spaces");
  }
}

TEST_CASE("sse parser: an unfinished event is not dispatched, a BOM is skipped", "[sse]") {
  auto events = ParseAll(
      "\xEF\xBB\xBF"
      "data: a\n\ndata: b\n",
      100);
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "a");
}

TEST_CASE("sse parser: stops when the handler says so", "[sse]") {
  SseParser parser;
  int seen = 0;
  CHECK_FALSE(parser.Feed("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) {
    ++seen;
    return false;
  }));
  CHECK(seen == 1);
}

TEST_CASE("sse client: events arrive as the server writes them (close-delimited)", "[sse]") {
  std::promise<void> first_seen;
  OneShotServer server([&](tcp::socket& s) {
    Write(s, std::string(kStreamHead) + "\r\n: hello\n\nevent: log\ndata: one\n");
    Write(s, "\n");
    // The second event is written only once the client has handed the first one over.
    first_seen.get_future().wait();
    Write(s, "event: end\ndata: {\"state\":\"succeeded\"}\n\n");
  });
  std::vector<SseEvent> events;
  auto r = FollowEvents(Get(server.url("/v1/tasks/t-1/logs?follow=1")), [&](const SseEvent& e) {
    events.push_back(e);
    if (events.size() == 1) first_seen.set_value();
    return true;
  });
  REQUIRE(r);
  REQUIRE(events.size() == 2);
  CHECK(events[0].event == "log");
  CHECK(events[0].data == "one");
  CHECK(events[1].event == "end");
  CHECK(events[1].data == "{\"state\":\"succeeded\"}");
  CHECK_THAT(server.request(), Catch::StartsWith("GET /v1/tasks/t-1/logs?follow=1 HTTP/1.1\r\n"));
  CHECK_THAT(server.request(), Catch::Contains("Accept: text/event-stream\r\n"));
  CHECK_THAT(server.request(), Catch::Contains("Authorization: Bearer tok\r\n"));
}

TEST_CASE("sse client: a chunked stream with lines split across chunks", "[sse]") {
  OneShotServer server([](tcp::socket& s) {
    Write(s, std::string(kStreamHead) + "Transfer-Encoding: chunked\r\n\r\n");
    Write(s, Chunk("event: log\r\nda"));
    Write(s, Chunk("ta: a\r\ndata: b\r"));
    Write(s, Chunk("\n\r\n") + Chunk(":\n\nevent: end\ndata: {}\n\n") + "0\r\n\r\n");
    WaitForClose(s);  // a chunked response ends with its last chunk, not with the connection
  });
  std::vector<SseEvent> events;
  auto r = FollowEvents(Get(server.url("/")), [&](const SseEvent& e) {
    events.push_back(e);
    return true;
  });
  REQUIRE(r);
  REQUIRE(events.size() == 2);
  CHECK(events[0].data == "a\nb");
  CHECK(events[1].event == "end");
}

TEST_CASE("sse client: returns as soon as the handler stops following", "[sse]") {
  OneShotServer server([](tcp::socket& s) {
    Write(s, std::string(kStreamHead) + "\r\ndata: 1\n\ndata: 2\n\n");
    WaitForClose(s);  // never ends the stream itself
  });
  int seen = 0;
  auto r = FollowEvents(Get(server.url("/")), [&](const SseEvent&) { return ++seen < 1; });
  CHECK(r);
  CHECK(seen == 1);
}

TEST_CASE("sse client: a non-200 answer is an error with the status and API message", "[sse]") {
  const std::string body = R"({"error":{"code":"not_found","message":"no task t-9"}})";
  auto serve = [&](tcp::socket& s) {
    Write(s, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  {
    OneShotServer server(serve);
    bool called = false;
    auto r = FollowEvents(Get(server.url("/v1/tasks/t-9/logs")), [&](const SseEvent&) {
      called = true;
      return true;
    });
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kNotFound);
    CHECK(r.error().message == "404: no task t-9");
    CHECK_FALSE(called);
  }
  {
    OneShotServer server(serve);
    auto r = StreamEvents(Get(server.url("/")), [](const SseEvent&) { return true; });
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
    CHECK(r->content_type == "application/json");
    CHECK(r->body == body);
  }
}

TEST_CASE("sse client: a 200 that is not an event stream is no stream", "[sse]") {
  OneShotServer server([](tcp::socket& s) {
    Write(s,
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
          "data: {}\n\n{\"a\":1}");
  });
  bool called = false;
  auto r = FollowEvents(Get(server.url("/")), [&](const SseEvent&) { return called = true; });
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "200: data: {}\n\n{\"a\":1}");
  CHECK_FALSE(called);
}

TEST_CASE("sse reply: the media type is matched without case or parameters", "[sse]") {
  auto stream = [](int status, std::string type) { return SseReply{status, type, ""}.is_stream(); };
  CHECK(stream(200, "text/event-stream"));
  CHECK(stream(200, "Text/Event-Stream; charset=utf-8"));
  CHECK_FALSE(stream(200, "text/event-streams"));
  CHECK_FALSE(stream(200, "application/json"));
  CHECK_FALSE(stream(200, ""));
  CHECK_FALSE(stream(404, "text/event-stream"));
}

TEST_CASE("sse client: a stream cut off mid-chunk is an io error", "[sse]") {
  OneShotServer server([](tcp::socket& s) {
    Write(s, std::string(kStreamHead) + "Transfer-Encoding: chunked\r\n\r\n" +
                 Chunk("data: 1\n\n") + "20\r\ndata: par");
  });
  int seen = 0;
  auto r = FollowEvents(Get(server.url("/")), [&](const SseEvent&) { return ++seen > 0; });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kIo);
  CHECK(seen == 1);
}

TEST_CASE("sse client: a silent stream ends after the idle timeout", "[sse]") {
  OneShotServer server([](tcp::socket& s) {
    Write(s, std::string(kStreamHead) + "\r\n");
    WaitForClose(s);
  });
  auto r = FollowEvents(
      Get(server.url("/")), [](const SseEvent&) { return true; }, 200ms);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kIo);
  CHECK_THAT(r.error().message, Catch::Contains("no data from 127.0.0.1:"));
}

TEST_CASE("sse client: no server is unreachable, a bad URL is bad_url", "[sse]") {
  // Bind a port, then close it: nothing listens there any more.
  asio::io_context ioc;
  tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  auto r = FollowEvents(Get("http://127.0.0.1:" + std::to_string(port) + "/"),
                        [](const SseEvent&) { return true; });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  auto bad = FollowEvents(Get("ftp://x/"), [](const SseEvent&) { return true; });
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kBadUrl);
}

}  // namespace autovibe
