// Plain HTTP request and response values shared by the server and the client.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autovibe {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/machines?x=1"
  std::string path;    // decoded path without the query: "/v1/machines"
  std::map<std::string, std::string> query;
  std::string authorization;   // the Authorization header, if any
  std::string remote_address;  // the client's address as the server saw it: "127.0.0.1"
  std::string content_type;
  std::string body;
  // Every header as sent, names in lower case ("x-api-key"), in order.
  std::vector<std::pair<std::string, std::string>> headers;
};

// The value of the request's header `lower_case_name`; "" when it has none.
std::string_view HeaderValue(const HttpRequest& req, std::string_view lower_case_name);

// A response body written over time, such as Server-Sent Events. Used on the server's
// io_context thread only.
class HttpBodyStream {
 public:
  virtual ~HttpBodyStream() = default;
  // Queues `data` for the client. Returns false once the client has gone: stop writing.
  virtual bool Write(std::string data) = 0;
  // Ends the response; the connection closes once everything queued is sent.
  virtual void Close() = 0;
  // Cuts the response off once everything queued is sent: the connection closes without the
  // body's end, as when a server dies mid-answer (fake servers in tests play that).
  virtual void Abort() = 0;
  virtual bool open() const = 0;
  // Bytes written and not yet sent. A writer that can make data faster than the client reads
  // it (a download) writes while this is low and else waits for WhenSent: its memory stays
  // bounded.
  virtual size_t queued_bytes() const { return 0; }
  // Calls `sent` once, on the server's thread and never within this call, when everything
  // queued has been sent or the client has gone (open() is then false). Replaces a call still
  // waiting.
  virtual void WhenSent(std::function<void()> sent) { sent(); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, `body` is ignored: the server sends the headers, then calls this with the stream
  // the body is written to, and closes the connection when the stream is closed.
  std::function<void(std::shared_ptr<HttpBodyStream>)> on_stream;
  // Written when the stream has been silent this long, so idle clients and proxies keep the
  // connection and a client that has gone is noticed (for SSE: ":\n\n").
  std::string keepalive;
  std::chrono::milliseconds keepalive_every{15'000};
  // When set, the answer comes later (it waits on other machines): the server calls this with
  // a function to give the response to, once, on the server's io_context thread. The rest of
  // this response is ignored.
  std::function<void(std::function<void(HttpResponse)>)> later;
};

// `r`'s status, content type, headers and body (not a stream, not later) as the bytes of an
// HTTP/1.1 answer that closes the connection: what a connection refused unread is sent.
std::string ClosingAnswerBytes(const HttpResponse& r);

// {"error":{"code":..,"message":..}} with the given status.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);

}  // namespace autovibe
