// fake-anthropic: the fake Anthropic Messages API as a program, for the quickstart and for
// trying a fleet by hand without spending money. Prints its URL (for ANTHROPIC_BASE_URL or the
// agent's --upstream anthropic=URL) and answers until SIGINT or SIGTERM.
#include <signal.h>

#include <iostream>
#include <string>

#include "common/core/flags.h"
#include "common/http/server.h"
#include "tests/fakes/fake_anthropic.h"

int main(int argc, char** argv) {
  using autovibe::testing::FakeAnthropic;
  autovibe::testing::FakeAnthropicScript script;
  std::string listen = "127.0.0.1:0";
  CLI::App app{"fake-anthropic: a fake Anthropic Messages API that plays one coding task"};
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: a free one)")
      ->capture_default_str();
  app.add_option("--write-file", script.write_file,
                 "file the agent is told to write (relative: in its working directory)")
      ->capture_default_str();
  app.add_option("--content", script.content, "what the file should contain");
  app.add_option("--final-text", script.final_text, "the agent's final answer")
      ->capture_default_str();
  if (auto code = autovibe::ParseFlags(app, argc, argv)) return *code;

  auto address = autovibe::ParseHostPort(listen);
  if (!address) return autovibe::ReportConfigError("fake-anthropic", address.error());

  // Block the stop signals before the server thread starts, so only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  FakeAnthropic fake(script);
  if (auto r = fake.Start(address->first, address->second); !r) {
    std::cerr << "fake-anthropic: cannot listen on " << listen << ": " << r.error() << "\n";
    return 1;
  }
  std::cout << fake.url() << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  const auto requests = fake.requests();
  std::cerr << "fake-anthropic: answered " << requests.size() << " requests\n";
  for (const auto& r : requests) {
    std::cerr << "  " << r.method << " " << r.target << (r.model.empty() ? "" : " model=" + r.model)
              << (r.stream ? " stream" : "") << " -> " << r.answer << "\n";
  }
  return 0;
}
