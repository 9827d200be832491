#include "tests/fakes/fake_program.h"

#include <signal.h>

#include "common/core/duration.h"
#include "common/http/server.h"

namespace autovibe::testing {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

Result<std::chrono::milliseconds> Delay(std::string_view flag, const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return MakeError(ErrorCode::kBadConfig, std::string(flag) + ": " + d.error().message);
  return *d;
}

}  // namespace

void AddFakeProgramFlags(CLI::App& app, FakeProgramFlags& f) {
  auto* host = app.add_option("--host", f.host, "Address to listen on")->capture_default_str();
  auto* port =
      app.add_option("--port", f.port, "Port to listen on (0: a free one)")->capture_default_str();
  app.add_option("--listen", f.listen, "HOST:PORT to listen on, instead of --host and --port")
      ->excludes(host)
      ->excludes(port);
  auto tokens = [&](const std::string& name, std::optional<int64_t>& into, const char* what) {
    app.add_option(name, into,
                   std::string("Report this many ") + what +
                       " tokens in every answer (default: derived from the request)")
        ->check(CLI::NonNegativeNumber);
  };
  tokens("--input-tokens", f.usage.input_tokens, "input");
  tokens("--output-tokens", f.usage.output_tokens, "output");
  tokens("--cache-write-tokens", f.usage.cache_write_tokens, "cache write");
  tokens("--cache-read-tokens", f.usage.cache_read_tokens, "cache read");
  app.add_option("--answer-delay", f.answer_delay,
                 "Wait this long before an answer's body, to play a slow model (500ms, 2s)")
      ->capture_default_str();
  app.add_option("--event-delay", f.event_delay, "Wait this long between a stream's events")
      ->capture_default_str();
}

Result<FakeProgramSettings> ResolveFakeProgramFlags(const FakeProgramFlags& f) {
  FakeProgramSettings s{f.host, f.port, {}};
  if (!f.listen.empty()) {
    auto address = ParseHostPort(f.listen);
    if (!address) return address.error();
    s.host = address->first;
    s.port = address->second;
  }
  auto answer = Delay("--answer-delay", f.answer_delay);
  if (!answer) return answer.error();
  auto event = Delay("--event-delay", f.event_delay);
  if (!event) return event.error();
  s.pacing = {*answer, *event};
  return s;
}

void BlockStopSignals() {
  const sigset_t stop = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
}

void WaitForStopSignal() {
  const sigset_t stop = StopSignals();
  int sig = 0;
  sigwait(&stop, &sig);
}

}  // namespace autovibe::testing
