// A task's pull request title and body (controller/publish/pull_request_text.h).
#include "controller/publish/pull_request_text.h"

#include <catch2/catch.hpp>

namespace autovibe {
namespace {

PullRequestReport Report() {
  PullRequestReport r;
  r.task_id = "t-42";
  r.project = "demo";
  r.tool = "claude-code";
  r.prompt = "Fix the failing unit test in calc.py\n\nThe add function is off by one.";
  r.summary = "Changed `add` to return a + b. All tests pass.";
  r.turns = 7;
  r.cost_micros = 123'456;
  r.checks = {{"pytest", true, "3 passed"}, {"lint", false, "exit 1"}};
  r.base_commit = "0123456789abcdef0123";
  r.head_commit = "fedcba9876543210fedc";
  r.files_changed = 1;
  r.insertions = 1;
  r.deletions = 1;
  return r;
}

}  // namespace

TEST_CASE("pull request text: the body lists prompt, summary, turns, cost and checks",
          "[publish]") {
  const std::string body = PullRequestBody(Report());
  CHECK(body ==
        "Opened by autovibe for task `t-42` (project `demo`, tool `claude-code`).\n"
        "\n### Prompt\n\n"
        "```text\nFix the failing unit test in calc.py\n\nThe add function is off by one.\n```\n"
        "\n### Summary\n\n"
        "```text\nChanged `add` to return a + b. All tests pass.\n```\n"
        "\n### Run\n\n| | |\n|---|---|\n"
        "| Turns | 7 |\n| Cost | $0.1234 |\n| Changes | 1 file, +1 -1 |\n"
        "| Commits | `0123456789ab`..`fedcba987654` |\n"
        "\n### Checks\n\n"
        "- passed: `pytest` `3 passed`\n"
        "- **failed**: `lint` `exit 1`\n");
  CHECK(PullRequestTitle(Report()) == "Fix the failing unit test in calc.py");
}

TEST_CASE("pull request text: hostile text stays inert code", "[publish]") {
  PullRequestReport r;
  r.task_id = "t-1";
  r.prompt = "ok\n````\n<img src=x onerror=alert(1)> @everyone #1\n````\nafter\x1b[31m";
  r.prompt.push_back('\0');
  r.summary = "<script>alert(1)</script>";
  r.checks = {{"na`me\nwith <b>", true, ""}};
  const std::string body = PullRequestBody(r);
  // The prompt's own fence of four backticks cannot end a fence of five.
  CHECK_THAT(body, Catch::Contains("`````text\nok\n````\n<img src=x onerror=alert(1)> @everyone "
                                   "#1\n````\nafter[31m\n`````\n"));
  CHECK_THAT(body, Catch::Contains("```text\n<script>alert(1)</script>\n```\n"));
  CHECK_THAT(body, Catch::Contains("- passed: `na'me with <b>`\n"));
  CHECK(body.find('\x1b') == std::string::npos);
  CHECK(body.find('\0') == std::string::npos);
}

TEST_CASE("pull request text: long texts are cut so the body fits, on a character", "[publish]") {
  PullRequestReport r = Report();
  r.prompt = std::string(50'000, 'p');
  r.summary = "";
  for (int i = 0; i < 30'000; ++i) r.summary += "\xc3\xa9";  // é, two bytes each
  const std::string body = PullRequestBody(r, 20'000);
  CHECK(body.size() <= 20'000);
  CHECK(body.size() > 19'000);
  CHECK_THAT(body, Catch::Contains("more bytes)*"));
  CHECK_THAT(body, Catch::Contains("### Checks"));  // the short parts all stay
  CHECK_THAT(body, Catch::Contains("| Cost | $0.1234 |"));
  // No é cut in half.
  for (size_t i = 0; i + 1 < body.size(); ++i) {
    if (body[i] == '\xc3') CHECK(body[i + 1] == '\xa9');
  }
  CHECK(PullRequestBody(r).size() <= kMaxPullRequestBody);
}

TEST_CASE("pull request text: the title from the task's title, the prompt or the id", "[publish]") {
  PullRequestReport r;
  r.task_id = "t-9";
  CHECK(PullRequestTitle(r) == "autovibe task t-9");
  r.prompt = "\n\n   Add a README\tsection\nmore";
  CHECK(PullRequestTitle(r) == "Add a README section");
  r.title = "Docs: README";
  CHECK(PullRequestTitle(r) == "Docs: README");
  r.title = std::string(200, 'x');
  CHECK(PullRequestTitle(r) == std::string(117, 'x') + "...");
}

}  // namespace autovibe
