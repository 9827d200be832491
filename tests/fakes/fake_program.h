// What the fake provider programs (main/*_main.cc) share: where they listen, the usage and
// pacing flags, and serving until SIGINT or SIGTERM.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

// The flags as typed.
struct FakeProgramFlags {
  std::string listen;  // HOST:PORT, instead of --host and --port
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string answer_delay = "0ms";
  std::string event_delay = "0ms";
  UsageOverride usage;
};

// Adds --host, --port, --listen, --input-tokens, --output-tokens, --cache-write-tokens,
// --cache-read-tokens, --answer-delay and --event-delay.
void AddFakeProgramFlags(CLI::App& app, FakeProgramFlags& flags);

struct FakeProgramSettings {
  std::string host;
  uint16_t port = 0;
  AnswerPacing pacing;
};

// Fails with "bad_config" on a bad address, duration or token count.
Result<FakeProgramSettings> ResolveFakeProgramFlags(const FakeProgramFlags& flags);

// Blocks SIGINT and SIGTERM in this thread and every thread it starts afterwards (call before
// starting a server thread), so that WaitForStopSignal alone sees them.
void BlockStopSignals();
void WaitForStopSignal();

// Starts `fake` on the settings' address, prints its URL as the first line of stdout, answers
// until SIGINT or SIGTERM, then lists on stderr what it answered. Returns the exit code.
template <class Fake>
int ServeUntilStopped(std::string_view program, Fake& fake, const FakeProgramSettings& settings) {
  BlockStopSignals();
  if (auto r = fake.Start(settings.host, settings.port); !r) {
    std::cerr << program << ": cannot listen on " << settings.host << ":" << settings.port << ": "
              << r.error() << "\n";
    return 1;
  }
  std::cout << fake.url() << std::endl;
  WaitForStopSignal();
  std::cerr << program << ": answered " << fake.requests().size() << " requests; reported usage "
            << fake.Tally().ToJson() << "\n";
  for (const auto& r : fake.requests()) {
    std::cerr << "  " << r.method << " " << r.target << (r.model.empty() ? "" : " model=" + r.model)
              << (r.stream ? " stream" : "") << " -> " << r.answer << "\n";
  }
  return 0;
}

}  // namespace autovibe::testing
