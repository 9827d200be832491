// fake-openai: the fake OpenAI API (Chat Completions and Responses) as a program, for
// benchmarks and trying a fleet by hand without spending money. Prints its URL (OPENAI_BASE_URL
// takes it with "/v1" appended; the agent's --upstream openai=URL takes it as is) as the first
// line of stdout and answers until SIGINT or SIGTERM. GET /__tally answers what it has
// reported so far.
#include <string>

#include "common/core/flags.h"
#include "tests/fakes/fake_openai.h"
#include "tests/fakes/fake_program.h"

int main(int argc, char** argv) {
  namespace t = autovibe::testing;
  t::FakeOpenAIOptions options;
  t::FakeProgramFlags flags;
  CLI::App app{"fake-openai: a fake OpenAI API that answers every request with one text"};
  t::AddFakeProgramFlags(app, flags);
  app.add_option("--text", options.text, "the answer to every request")->capture_default_str();
  app.add_option("--api-key", options.api_key, "the only bearer key accepted (default: any)");
  if (auto code = autovibe::ParseFlags(app, argc, argv)) return *code;

  auto settings = t::ResolveFakeProgramFlags(flags);
  if (!settings) return autovibe::ReportConfigError("fake-openai", settings.error());
  options.usage = flags.usage;
  options.pacing = settings->pacing;

  t::FakeOpenAI fake(options);
  return t::ServeUntilStopped("fake-openai", fake, *settings);
}
