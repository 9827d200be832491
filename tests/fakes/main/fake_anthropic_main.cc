// fake-anthropic: the fake Anthropic Messages API as a program, for the quickstart, benchmarks
// and trying a fleet by hand without spending money. Prints its URL (for ANTHROPIC_BASE_URL or
// the agent's --upstream anthropic=URL) as the first line of stdout and answers until SIGINT or
// SIGTERM. GET /__tally answers what it has reported so far.
#include <string>

#include "common/core/flags.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_program.h"

int main(int argc, char** argv) {
  namespace t = autovibe::testing;
  t::FakeAnthropicScript script;
  t::FakeProgramFlags flags;
  CLI::App app{"fake-anthropic: a fake Anthropic Messages API that plays one coding task"};
  t::AddFakeProgramFlags(app, flags);
  app.add_option("--write-file", script.write_file,
                 "file the agent is told to write (relative: in its working directory)")
      ->capture_default_str();
  app.add_option("--content", script.content, "what the file should contain");
  app.add_option("--final-text", script.final_text, "the agent's final answer")
      ->capture_default_str();
  app.add_option("--api-key", script.api_key, "the only key accepted (default: any)");
  if (auto code = autovibe::ParseFlags(app, argc, argv)) return *code;

  auto settings = t::ResolveFakeProgramFlags(flags);
  if (!settings) return autovibe::ReportConfigError("fake-anthropic", settings.error());
  script.usage = flags.usage;
  script.pacing = settings->pacing;

  t::FakeAnthropic fake(script);
  return t::ServeUntilStopped("fake-anthropic", fake, *settings);
}
