// fake-forge: the fake code forge (GitHub's pull request API; Gitea's under /api/v1) as a
// program, for integration tests in other processes and the quickstart. Prints its URL (the
// API base a project's publish settings take) as the first line of stdout and answers until
// SIGINT or SIGTERM, then lists the pull requests it holds on stderr.
// POST /__fail?count=N&status=502 fails the next N calls; GET /__pulls lists every pull
// request.
#include <iostream>
#include <string>
#include <vector>

#include "common/core/flags.h"
#include "common/http/server.h"
#include "tests/fakes/fake_forge.h"
#include "tests/fakes/fake_program.h"

int main(int argc, char** argv) {
  namespace t = autovibe::testing;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string listen;
  std::vector<std::string> tokens, repos;
  CLI::App app{"fake-forge: a fake GitHub/Gitea pull request API"};
  app.add_option("--host", host, "Address to listen on")->capture_default_str();
  app.add_option("--port", port, "Port to listen on (0: a free one)")->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT to listen on, instead of --host and --port");
  app.add_option("--token", tokens, "A token accepted (repeatable; default: any token)");
  app.add_option("--repo", repos, "OWNER/REPO that exists (repeatable; default: every one)");
  if (auto code = autovibe::ParseFlags(app, argc, argv)) return *code;
  if (!listen.empty()) {
    auto address = autovibe::ParseHostPort(listen);
    if (!address) return autovibe::ReportConfigError("fake-forge", address.error());
    host = address->first;
    port = address->second;
  }

  t::FakeForge forge(
      t::FakeForgeOptions{{tokens.begin(), tokens.end()}, {repos.begin(), repos.end()}});
  t::BlockStopSignals();
  if (auto r = forge.Start(host, port); !r) {
    std::cerr << "fake-forge: cannot listen on " << host << ":" << port << ": " << r.error()
              << "\n";
    return 1;
  }
  std::cout << forge.url() << std::endl;
  t::WaitForStopSignal();
  const auto pulls = forge.PullRequests();
  std::cerr << "fake-forge: answered " << forge.Requests().size() << " calls; " << pulls.size()
            << " pull requests\n";
  for (const t::FakePullRequest& pr : pulls) {
    std::cerr << "  " << pr.owner << "/" << pr.repo << "#" << pr.number << " " << pr.head_label
              << " -> " << pr.base << " [" << pr.state << "] " << pr.title << "\n";
  }
  return 0;
}
