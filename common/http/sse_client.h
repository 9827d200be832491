// A blocking client for Server-Sent Events (text/event-stream) over http:// and https:// URLs
// (the server checked as for SendHttp: HttpCall's ca_file, verify_tls and pin_sha256).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "common/http/client.h"

namespace autovibe {

// One event of the stream. `event` is "message" when the server named none; `id` is the last
// id the stream has set (it carries over to later events, as the SSE standard says).
struct SseEvent {
  std::string event;
  std::string data;  // the event's data lines joined by '\n'
  std::string id;
};

// Called for each event; return false to stop following.
using SseHandler = std::function<bool(const SseEvent&)>;

// Turns the bytes of an event stream, fed in pieces of any size, into events. Lines end in
// CRLF, LF or CR; comment lines (":...") and unknown fields are skipped; an event is dispatched
// at the blank line that ends it (an event without data lines is not).
class SseParser {
 public:
  // Returns false as soon as `on_event` has returned false; the rest of `bytes` is dropped.
  bool Feed(std::string_view bytes, const SseHandler& on_event);

 private:
  bool EndLine(const SseHandler& on_event);
  void Field(std::string_view name, std::string_view value);

  std::string line_;
  std::string event_;
  std::string data_;
  std::string id_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the previous byte was a CR: a following LF ends no new line
  bool started_ = false;   // the first bytes have been checked for a byte-order mark
};

// What the server said when it did not answer with a stream, or how the stream ended.
struct SseReply {
  int status = 0;
  std::string content_type;
  std::string body;  // the body of an answer that is not a stream; empty for a stream
  // 200 with Content-Type text/event-stream: the events have been handed over.
  bool is_stream() const;
};

// Sends `call` (normally a GET with "Accept: text/event-stream") and hands each event to
// `on_event` as it arrives. Returns once the server has ended the stream (closing the
// connection or sending the last chunk) or `on_event` returned false. Any other answer (an
// error status, or a 200 that is not text/event-stream) is returned as a value with its body,
// and no event is delivered.
// `call.timeout` bounds connecting and the response headers; `idle_timeout` bounds each wait
// for more of the body, so it must exceed the server's keep-alive interval.
// Error codes: kBadUrl, kUnavailable (refused, DNS, timeout), kTls (as SendHttp), kIo (the
// stream broke).
Result<SseReply> StreamEvents(const HttpCall& call, const SseHandler& on_event,
                              std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));

// Sends `call` and hands the body of a 2xx answer to `sink` as it arrives (a download too large
// to hold), until it ends or `sink` returns false; the reply then has an empty body. Any other
// answer is returned with its body (at most 1 MiB) and nothing goes to `sink`. A body cut off
// before its end (the connection closed mid-way) is an error, kIo. Timeouts as StreamEvents.
Result<HttpReply> DownloadBody(const HttpCall& call,
                               const std::function<bool(std::string_view)>& sink,
                               std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));

// StreamEvents for callers that only care about a stream: an answer that is not a stream is an
// error whose code is the API's error code (else "http_error") and whose message starts with
// the status: "404: no task t-1".
Result<void> FollowEvents(const HttpCall& call, const SseHandler& on_event,
                          std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));

}  // namespace autovibe
