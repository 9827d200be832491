// What the `autovibe task` tests share: a submit line, usage errors that must send nothing,
// and a submit that waits on a fake terminal.
#pragma once

#include <boost/json/object.hpp>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/task_submit.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli::testing {

// "task submit --project demo --tool shell" and `more`.
inline std::vector<std::string> SubmitArgs(const std::vector<std::string>& more) {
  std::vector<std::string> args = {"task", "submit", "--project", "demo", "--tool", "shell"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// A command line that is a usage error (exit 2) whose message holds `says`.
struct UsageCase {
  std::vector<std::string> args;
  std::string says;
};

// Each case ends at parsing with its message, and the controller hears nothing.
inline void CheckUsageErrors(const std::vector<UsageCase>& cases) {
  for (const auto& c : cases) {
    INFO("argv: " << Catch::Detail::stringify(c.args));
    FakeController ctl;
    Outcome o = RunCli(ctl, c.args);
    CHECK(o.exit_code == 2);
    CHECK_THAT(o.err, Catch::StartsWith("autovibe: ") && Catch::Contains(c.says));
    CHECK(ctl.requests().empty());
  }
}

struct WaitRun {
  CliStatus status;
  std::string out;
};

// Submits a task with --wait against `ctl`, which answers the submit with `submitted`; the
// terminal is `term` (60 columns), and every event takes a second.
inline WaitRun SubmitAndWait(FakeController& ctl, FakeTerminal& term, const std::string& submitted,
                             bool tty, bool as_json = false,
                             WaitMode mode = WaitMode::kToEndOrPause) {
  ctl.On("POST /v1/tasks", JsonReply(201, submitted));
  ctl.before_event = [&term] { term.now_ms += 1000; };
  Client client = ctl.MakeClient();
  std::ostringstream out;
  GlobalOptions options;
  options.json = as_json;
  CommandContext ctx{client, options, out, kNowMs};
  boost::json::object request{{"project", "demo"}, {"tool", "shell"}};
  WaitRun run{SubmitTask(ctx, request, mode, term.Make(tty, 60)), ""};
  run.out = out.str();
  return run;
}

}  // namespace autovibe::cli::testing
