// api_tls_bench: what https costs an API request, from the CLI's stand point, against plain
// http, in the same run.
//
// A real nats-server and two controllers run on loopback: one serving https with the
// self-signed certificate it made on first start, one plain http (--plain-http). Each run
// times, alternating which goes first:
// - cli: `autovibe machines list --json` as a user runs it (a process of its own, a new
//   connection, the TLS handshake, one GET), from fork to exit, with the certificate pinned
//   (--pin) over https;
// - call: the same GET from this process with the CLI's HTTP client (SendHttp: a new
//   connection per call, as the CLI makes), which isolates the connection's and the
//   handshake's cost from starting a process.
// Each figure is the median of `--calls` per run; the summary is the median over `--runs`.
// Run it with ./scripts/bench.sh tls.
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>

#include "common/core/files.h"
#include "common/core/log.h"
#include "common/core/run_program.h"
#include "common/http/client.h"
#include "common/tls/certificate.h"
#include "tests/bench/bench_output.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

namespace autovibe {
namespace {

using bench::JsonLine;
using bench::Median;
using bench::Percentile;
using bench::Progress;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Target {
  std::string scheme;
  std::string url;
  std::string token;
  std::string pin;  // https only
};

// Milliseconds of each of `n` CLI runs against `t`; throws when one fails.
std::vector<double> TimeCli(const Target& t, int n) {
  std::vector<std::string> argv = {testing::BinPath("autovibe"), "--controller", t.url, "--token",
                                   t.token};
  if (!t.pin.empty()) argv.insert(argv.end(), {"--pin", t.pin});
  argv.insert(argv.end(), {"machines", "list", "--json"});
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    auto r = RunProgram({.argv = argv, .timeout = std::chrono::seconds(30)});
    out.push_back(MsSince(start));
    if (!r) throw std::runtime_error("autovibe against " + t.url + ": " + r.error().message);
  }
  return out;
}

// Milliseconds of each of `n` GETs with SendHttp, a new connection each.
std::vector<double> TimeCalls(const Target& t, int n) {
  HttpCall call{.url = t.url + "/v1/machines", .bearer_token = t.token, .pin_sha256 = t.pin};
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    auto r = SendHttp(call);
    out.push_back(MsSince(start));
    if (!r || r->status != 200) throw std::runtime_error("GET " + call.url + " failed");
  }
  return out;
}

int Main(int argc, char** argv) {
  int runs = 5;
  int calls = 40;
  CLI::App app{"What https adds to an API request from the CLI (JSON lines on stdout)"};
  app.add_option("--runs", runs, "runs, alternating which scheme goes first [5]");
  app.add_option("--calls", calls, "CLI runs and calls per scheme per run [40]");
  CLI11_PARSE(app, argc, argv);
  InitLogging("bench", "warn");

  testing::TempDir dir("autovibe-tls-bench");
  testing::NatsServer nats(dir / "nats");
  testing::ControllerProcess https(dir / "https", nats.url(), {}, 0, testing::ApiScheme::kHttps);
  testing::ControllerProcess http(dir / "http", nats.url());
  auto cert = InspectCertificate(ReadFile(https.ca_file()).value());
  if (!cert) throw std::runtime_error("no certificate: " + cert.error().message);
  const Target targets[] = {{"https", https.base_url(), https.token(), cert->fingerprint},
                            {"http", http.base_url(), http.token(), ""}};
  TimeCli(targets[0], 3);  // warm the page cache and both controllers
  TimeCli(targets[1], 3);

  std::map<std::string, std::vector<double>> per_run;  // "cli https" -> medians per run
  for (int run = 0; run < runs; ++run) {
    for (int k = 0; k < 2; ++k) {
      const Target& t = targets[(run + k) % 2];
      for (const char* mode : {"cli", "call"}) {
        auto ms = std::string(mode) == "cli" ? TimeCli(t, calls) : TimeCalls(t, calls);
        const double p50 = Median(ms);
        per_run[std::string(mode) + " " + t.scheme].push_back(p50);
        JsonLine()
            .Str("bench", "api_tls")
            .Int("run", run)
            .Str("mode", mode)
            .Str("scheme", t.scheme)
            .Int("calls", calls)
            .Num("p50_ms", p50)
            .Num("p90_ms", Percentile(ms, 90))
            .Print();
      }
    }
    Progress("run {} of {} done", run + 1, runs);
  }
  auto m = [&](const std::string& key) { return Median(per_run[key]); };
  JsonLine()
      .Str("bench", "api_tls")
      .Str("summary", "median over runs")
      .Int("runs", runs)
      .Num("cli_http_ms", m("cli http"))
      .Num("cli_https_ms", m("cli https"))
      .Num("cli_added_ms", m("cli https") - m("cli http"))
      .Num("call_http_ms", m("call http"))
      .Num("call_https_ms", m("call https"))
      .Num("call_added_ms", m("call https") - m("call http"))
      .Print();
  return 0;
}

}  // namespace
}  // namespace autovibe

int main(int argc, char** argv) {
  try {
    return autovibe::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "api_tls_bench: %s\n", e.what());
    return 1;
  }
}
