#include "worker-agent/agent_metrics.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/http/listener.h"
#include "worker-agent/meter/meter_config.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A scraper or two, and room for a curl by hand: nothing more is needed on loopback.
constexpr ConnectionLimits kLimits{.max_connections = 16, .max_per_client = 8};
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr auto kAnswerTimeout = std::chrono::seconds(10);

// "127.0.0.1:9464" or "[::1]:9464" -> (address, port).
std::optional<std::pair<std::string, uint16_t>> SplitMetricsListen(const std::string& listen) {
  auto hp = meter::SplitListen(listen);
  if (!hp) return std::nullopt;
  std::string& host = hp->first;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return hp;
}

// One connection: one request, one answer, then it closes. What the agent's HTTP server
// (the metering proxy's) is not needed for: no body, no keep-alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::ip::tcp::socket socket, ConnectionSlot slot, const AgentMetricsSources& s)
      : stream_(std::move(socket)), slot_(std::move(slot)), s_(s) {}

  void Start() {
    parser_.header_limit(8 << 10);
    parser_.body_limit(0);
    slot_.Waiting(stream_.socket());
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->Read(ec); });
  }

 private:
  void Read(beast::error_code ec) {
    slot_.Busy();
    if (ec) return Answer(400, "bad request\n");
    const auto& req = parser_.get();
    const std::string_view target = req.target();
    if (target.substr(0, target.find('?')) != "/metrics") {
      return Answer(404, "not found: the agent serves GET /metrics\n");
    }
    if (req.method() != http::verb::get) return Answer(405, "method not allowed: GET only\n");
    MetricsText out;
    RenderAgentMetrics(s_, out);
    // The meter's part comes from its own thread, then the answer goes out from this one.
    stream_.expires_after(kAnswerTimeout);
    s_.meter->RenderMetrics(
        [self = shared_from_this(), mine = std::move(out.text())](std::string meter) mutable {
          auto ex = self->stream_.get_executor();
          asio::post(ex, [self, body = std::move(mine) + meter]() mutable {
            self->Answer(200, std::move(body));
          });
        });
  }

  void Answer(int status, std::string body) {
    res_.result(static_cast<http::status>(status));
    res_.version(11);
    res_.set(http::field::content_type, "text/plain; version=0.0.4");
    if (status == 405) res_.set(http::field::allow, "GET");
    res_.keep_alive(false);
    res_.body() = std::move(body);
    res_.prepare_payload();
    stream_.expires_after(kAnswerTimeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  ConnectionSlot slot_;
  const AgentMetricsSources s_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
};

class Server final : public AgentMetricsServer {
 public:
  explicit Server(AgentMetricsSources sources) : s_(sources) {}

  Result<void> Start(asio::io_context& ioc, const std::string& host, uint16_t port) {
    ListenerOptions o{.host = host, .port = port, .log_prefix = "metrics: ", .limits = kLimits};
    auto listener =
        StartTcpListener(ioc, std::move(o), [this](asio::ip::tcp::socket s, ConnectionSlot slot) {
          std::make_shared<Connection>(std::move(s), std::move(slot), s_)->Start();
        });
    if (!listener) {
      return MakeError(listener.error().code, "agent metrics: " + listener.error().message);
    }
    listener_ = std::move(*listener);
    host_ = host.find(':') == std::string::npos ? host : "[" + host + "]";
    return {};
  }

  uint16_t port() const override { return listener_->port(); }
  std::string url() const override {
    return "http://" + host_ + ":" + std::to_string(port()) + "/metrics";
  }
  void Stop() override { listener_->Stop(); }

 private:
  const AgentMetricsSources s_;
  std::unique_ptr<TcpListener> listener_;
  std::string host_;
};

}  // namespace

Result<void> CheckMetricsListen(const std::string& listen, bool allow_remote) {
  if (listen.empty()) return {};
  auto hp = SplitMetricsListen(listen);
  if (!hp) {
    return MakeError(ErrorCode::kBadConfig,
                     "metrics_listen \"" + listen + "\" is not HOST:PORT (e.g. 127.0.0.1:9464)");
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hp->first, ec);
  if (ec) {
    return MakeError(ErrorCode::kBadConfig, "metrics_listen \"" + listen +
                                                "\" names no IP address: write one, such as "
                                                "127.0.0.1");
  }
  if (!address.is_loopback() && !allow_remote) {
    return MakeError(ErrorCode::kBadConfig,
                     "metrics_listen \"" + listen +
                         "\" is not a loopback address: the agent's metrics are served on "
                         "loopback only (127.0.0.1 or ::1) unless metrics_allow_remote = true "
                         "(--metrics-allow-remote) says otherwise");
  }
  return {};
}

void RenderAgentMetrics(const AgentMetricsSources& s, MetricsText& out) {
  out.Family("autovibe_agent_info", "gauge", "1, with the agent's machine id, name and version.");
  out.Sample("autovibe_agent_info",
             {{"machine", *s.machine_id}, {"name", *s.name}, {"version", AUTOVIBE_VERSION}}, 1);
  out.Family("autovibe_agent_tasks_running", "gauge", "Tasks whose tool runs here now.");
  out.Sample("autovibe_agent_tasks_running", s.tasks->running());
  const OutboxStats o = s.outbox->Stats();
  out.Family("autovibe_agent_outbox_depth", "gauge",
             "Events (usage records, task events, checkpoints) waiting for the controller's "
             "stream to acknowledge them.");
  out.Sample("autovibe_agent_outbox_depth", o.pending);
  out.Family("autovibe_agent_outbox_published_total", "counter",
             "Events the stream acknowledged since the agent started.");
  out.Sample("autovibe_agent_outbox_published_total", o.published);
  out.Family("autovibe_agent_outbox_publish_failures_total", "counter",
             "Tries to publish an event that the stream did not acknowledge (each retried).");
  out.Sample("autovibe_agent_outbox_publish_failures_total", o.publish_failures);
  out.Family("autovibe_agent_outbox_dropped_log_bytes_total", "counter",
             "Tool output dropped because the outbox held too much of it.");
  out.Sample("autovibe_agent_outbox_dropped_log_bytes_total", o.dropped_log_bytes);
  const CheckpointTimings& c = s.checkpoints->timings();
  out.Family("autovibe_agent_checkpoint_seconds", "histogram",
             "How long taking a workspace checkpoint took, by trigger.");
  for (const auto& [trigger, h] : c.take) {
    out.Histogram("autovibe_agent_checkpoint_seconds", {{"trigger", trigger}}, h);
  }
  out.Family("autovibe_agent_checkpoint_restore_seconds", "histogram",
             "How long writing a checkpoint into a workspace took (restores and seeds).");
  out.Histogram("autovibe_agent_checkpoint_restore_seconds", {}, c.restore);
  out.Family("autovibe_agent_checkpoint_failures_total", "counter",
             "Checkpoints that could not be taken.");
  out.Sample("autovibe_agent_checkpoint_failures_total", c.failures);
}

Result<std::unique_ptr<AgentMetricsServer>> StartAgentMetrics(asio::io_context& ioc,
                                                              const std::string& listen,
                                                              bool allow_remote,
                                                              AgentMetricsSources sources) {
  if (auto r = CheckMetricsListen(listen, allow_remote); !r) return r.error();
  auto hp = SplitMetricsListen(listen);
  auto server = std::make_unique<Server>(sources);
  if (auto r = server->Start(ioc, hp->first, hp->second); !r) return r.error();
  return std::unique_ptr<AgentMetricsServer>(std::move(server));
}

}  // namespace autovibe
