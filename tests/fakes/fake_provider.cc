#include "tests/fakes/fake_provider.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace autovibe::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// Writes the pieces of a paced body, one per timer tick, on the server's thread.
class PacedWriter : public std::enable_shared_from_this<PacedWriter> {
 public:
  PacedWriter(asio::io_context& ioc, std::shared_ptr<HttpBodyStream> out,
              std::vector<std::string> pieces, std::chrono::milliseconds event_delay,
              std::function<void()> on_end, bool cut)
      : timer_(ioc),
        out_(std::move(out)),
        pieces_(std::move(pieces)),
        event_delay_(event_delay),
        on_end_(std::move(on_end)),
        cut_(cut) {}

  void WriteAfter(std::chrono::milliseconds delay) {
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->WriteNext();
    });
  }

 private:
  void WriteNext() {
    if (next_ < pieces_.size() && !out_->Write(std::move(pieces_[next_++]))) return;  // gone
    if (next_ < pieces_.size()) {
      WriteAfter(event_delay_);
      return;
    }
    if (cut_) {
      out_->Abort();
      return;
    }
    // The end goes with the last piece, as one write.
    out_->Close();
    if (on_end_) on_end_();
  }

  asio::steady_timer timer_;
  std::shared_ptr<HttpBodyStream> out_;
  std::vector<std::string> pieces_;
  std::chrono::milliseconds event_delay_;
  std::function<void()> on_end_;
  bool cut_;
  size_t next_ = 0;
};

}  // namespace

TokenUsage UsageOverride::Apply(TokenUsage derived) const {
  if (input_tokens) derived.input = *input_tokens;
  if (output_tokens) derived.output = *output_tokens;
  if (cache_write_tokens) derived.cache_write = *cache_write_tokens;
  if (cache_read_tokens) derived.cache_read = *cache_read_tokens;
  return derived;
}

void UsageTally::Add(const TokenUsage& usage) {
  ++calls;
  input_tokens += usage.input;
  output_tokens += usage.output;
  cache_write_tokens += usage.cache_write;
  cache_read_tokens += usage.cache_read;
  cache_write_1h_tokens += usage.cache_write_1h;
  web_search_requests += usage.web_search_requests;
}

std::string UsageTally::ToJson() const {
  return json::serialize(json::object{{"calls", calls},
                                      {"input_tokens", input_tokens},
                                      {"output_tokens", output_tokens},
                                      {"cache_write_tokens", cache_write_tokens},
                                      {"cache_read_tokens", cache_read_tokens},
                                      {"cache_write_1h_tokens", cache_write_1h_tokens},
                                      {"web_search_requests", web_search_requests},
                                      {"cut_calls", cut_calls}});
}

int64_t EstimateTokens(size_t bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(bytes / 4));
}

std::vector<std::string> SplitText(std::string_view text, size_t max_bytes) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t n = std::min(std::max<size_t>(max_bytes, 1), text.size());
    while (n < text.size() && n > 1 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    out.emplace_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return out;
}

FakeServerThread::~FakeServerThread() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
}

Result<void> FakeServerThread::Start(const std::string& host, uint16_t port,
                                     HttpServer::Handler handler) {
  HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.max_body_bytes = 64 << 20;  // an agent's prompt with its tool schemas is large
  auto http = StartHttpServer(ioc_, options, std::move(handler));
  if (!http) return http.error();
  http_ = std::move(*http);
  host_ = host;
  port_ = http_->port();
  thread_ = std::thread([this] { ioc_.run(); });
  return {};
}

std::string FakeServerThread::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void SetPacedBody(HttpResponse& res, std::vector<std::string> pieces, const AnswerPacing& pacing,
                  asio::io_context& ioc, std::function<void()> on_end,
                  std::optional<size_t> cut_after) {
  const bool cut = cut_after && *cut_after < pieces.size();
  if (cut) pieces.resize(*cut_after);
  if (pacing.immediate() && !cut) {
    res.body.clear();
    for (const std::string& piece : pieces) res.body += piece;
    if (on_end) on_end();
    return;
  }
  res.on_stream = [&ioc, pieces = std::move(pieces), pacing, on_end = std::move(on_end),
                   cut](std::shared_ptr<HttpBodyStream> out) mutable {
    auto writer = std::make_shared<PacedWriter>(ioc, std::move(out), std::move(pieces),
                                                pacing.event_delay, std::move(on_end), cut);
    writer->WriteAfter(pacing.answer_delay);
  };
}

}  // namespace autovibe::testing
