// bus_tls_bench: what TLS to nats-server costs the bus, against the same bus in the clear.
//
// Two real nats-servers on loopback with authorization on, one plain and one with a tls block
// (a CA and a server certificate made with openssl, EC P-256), and the project's own Bus
// (common/bus) as the agents and the controller use it, logged in as the controller:
//   - connect: ConnectNats until connected (TCP, for TLS the handshake, the login);
//   - request/reply: one requester asks a responder on another connection, one request at a
//     time, as an agent's lease top-up or a controller's command waits (write_at_once, as the
//     agent connects);
//   - publish: one publisher sends 100-byte and 4 KB messages as fast as it can (batched
//     writes, as the controller connects) to a subscriber on another connection; the rate is
//     messages the subscriber got per second, first sent to last received.
// Each run measures both transports, interleaved, and medians over the runs go to stdout as
// JSON lines, with the ratio TLS / plain of each figure. Run it with ./scripts/bench.sh bus_tls.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "common/bus/bus.h"
#include "common/core/log.h"
#include "tests/bench/bench_output.h"
#include "tests/support/bus_auth.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"
#include "tests/support/test_certs.h"

namespace autovibe::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int runs = 5;
  int requests = 5000;
  int messages = 200000;
};

double MicrosSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count();
}

std::unique_ptr<Bus> Connect(const std::string& url, bool write_at_once, double* connect_us) {
  BusOptions o = testing::AdminBus(url);
  o.write_at_once = write_at_once;
  const auto t0 = SteadyClock::now();
  auto bus = ConnectNats(std::move(o));
  if (!bus) throw std::runtime_error("connect " + url + ": " + bus.error().message);
  if (connect_us != nullptr) *connect_us = MicrosSince(t0);
  return std::move(*bus);
}

// Figures of one transport in one run.
struct Run {
  double connect_us = NAN;
  double rtt_p50_us = NAN;
  double rtt_p99_us = NAN;
  std::map<size_t, double> publish_per_s;  // by message size
};

Run Measure(const std::string& url, const Options& o) {
  Run r;
  auto responder = Connect(url, true, nullptr);
  auto requester = Connect(url, true, &r.connect_us);
  Bus* resp = responder.get();
  auto echo = resp->Subscribe("bench.echo", "bench", 1 << 20,
                              [resp](BusMessage m) { resp->Publish(m.reply, m.data); });
  if (!echo) throw std::runtime_error("subscribe: " + echo.error().message);
  const std::string payload(100, 'r');
  std::vector<double> rtts;
  rtts.reserve(o.requests);
  for (int i = 0; i < o.requests + 100; ++i) {
    const auto t0 = SteadyClock::now();
    auto reply = requester->Request("bench.echo", payload, 2s);
    if (!reply) throw std::runtime_error("request: " + reply.error().message);
    if (i >= 100) rtts.push_back(MicrosSince(t0));  // the first ones warm up
  }
  r.rtt_p50_us = Median(rtts);
  r.rtt_p99_us = Percentile(rtts, 99);

  auto publisher = Connect(url, false, nullptr);
  for (size_t size : {size_t{100}, size_t{4096}}) {
    const int n = size > 1000 ? o.messages / 8 : o.messages;
    std::atomic<int> got{0};
    std::atomic<int64_t> last_ns{0};
    auto sink = resp->Subscribe("bench.sink", "bench", 1 << 20, [&](BusMessage) {
      last_ns = SteadyClock::now().time_since_epoch().count();
      ++got;
    });
    if (!sink) throw std::runtime_error("subscribe: " + sink.error().message);
    // The subscription is live at the server once a request through it round-trips.
    (void)requester->Request("bench.echo", "sync", 2s);
    const std::string msg(size, 'p');
    const auto t0 = SteadyClock::now();
    for (int i = 0; i < n; ++i) {
      while (!publisher->Publish("bench.sink", msg)) std::this_thread::sleep_for(1ms);
    }
    if (!testing::WaitUntil([&] { return got.load() >= n; }, 60s)) {
      throw std::runtime_error("the subscriber got " + std::to_string(got.load()) + " of " +
                               std::to_string(n));
    }
    const double secs =
        (last_ns.load() - t0.time_since_epoch().count()) / 1e9;  // first sent to last received
    r.publish_per_s[size] = n / secs;
  }
  return r;
}

template <class F>
double MedianOver(const std::vector<Run>& runs, F f) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(f(r));
  return Median(v);
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"bus_tls_bench: the bus over TLS against the bus in the clear"};
  app.add_option("--runs", o.runs, "runs (each measures both transports)");
  app.add_option("--requests", o.requests, "requests per run and transport");
  app.add_option("--messages", o.messages, "100-byte messages per run (4 KB: an eighth)");
  CLI11_PARSE(app, argc, argv);
  InitLogging("bench", "warn");

  testing::TempDir dir("bus-tls-bench");
  auto ca = testing::MakeTestCa(dir / "pki", "ca");
  auto cert = testing::IssueTestCert(ca, dir / "pki", "server");
  testing::NatsServer plain(dir / "plain");
  testing::NatsServer tls(dir / "tls", testing::NatsTls{cert.cert, cert.key, ca.cert});
  Progress("nats-server plain at {}, with TLS at {}", plain.url(), tls.url());

  std::map<std::string, std::vector<Run>> runs;
  for (int i = 0; i < o.runs; ++i) {
    for (auto [name, url] : {std::pair{"plain", plain.url()}, std::pair{"tls", tls.url()}}) {
      runs[name].push_back(Measure(url, o));
      const Run& r = runs[name].back();
      Progress(
          "run {} {}: connect {:.0f} us, rtt p50 {:.1f} us, publish 100 B {:.0f}/s, 4 KB "
          "{:.0f}/s",
          i + 1, name, r.connect_us, r.rtt_p50_us, r.publish_per_s.at(100),
          r.publish_per_s.at(4096));
    }
  }
  std::map<std::string, std::map<std::string, double>> med;
  for (auto& [name, rs] : runs) {
    auto& m = med[name];
    m["connect_us"] = MedianOver(rs, [](const Run& r) { return r.connect_us; });
    m["rtt_p50_us"] = MedianOver(rs, [](const Run& r) { return r.rtt_p50_us; });
    m["rtt_p99_us"] = MedianOver(rs, [](const Run& r) { return r.rtt_p99_us; });
    m["publish_100b_per_s"] = MedianOver(rs, [](const Run& r) { return r.publish_per_s.at(100); });
    m["publish_4kb_per_s"] = MedianOver(rs, [](const Run& r) { return r.publish_per_s.at(4096); });
    JsonLine line;
    line.Str("bench", "bus_tls").Str("transport", name).Str("summary", "median over runs");
    line.Int("runs", o.runs);
    for (const auto& [k, v] : m) line.Num(k, v, k.ends_with("per_s") ? 0 : 1);
    line.Print();
  }
  JsonLine ratio;
  ratio.Str("bench", "bus_tls").Str("summary", "tls / plain");
  for (const auto& [k, v] : med["tls"]) ratio.Num(k, v / med["plain"][k], 3);
  ratio.Print();
  return 0;
}

}  // namespace
}  // namespace autovibe::bench

int main(int argc, char** argv) { return autovibe::bench::Main(argc, argv); }
