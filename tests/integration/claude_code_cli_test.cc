// The real Claude Code CLI (`claude`, installed by scripts/install-deps.sh) started as the
// claude-code adapter says, against the fake Anthropic API (tests/fakes: the real provider cannot
// be reached from here), and judged by the adapter from its stream-json output.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe {
namespace {

using testing::FakeAnthropic;
using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The executable `name` in $PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string file = dir + "/" + name;
    struct stat st {};
    if (!dir.empty() && stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(file.c_str(), X_OK) == 0) {
      return file;
    }
  }
  return "";
}

// A process started with exactly `env` in `cwd`, stdout and stderr to files, in its own
// process group, which is killed if the test ends first.
class Tool {
 public:
  Tool(const std::string& binary, const std::vector<std::string>& argv,
       const std::map<std::string, std::string>& env, const std::string& cwd,
       const std::string& out, const std::string& err) {
    // Everything exec needs is built before fork: the child only makes async-signal-safe calls.
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    args.push_back(nullptr);
    envp.push_back(nullptr);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      setpgid(0, 0);
      const int in_fd = open("/dev/null", O_RDONLY);
      const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in_fd < 0 || out_fd < 0 || err_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
          dup2(err_fd, 2) < 0 || chdir(cwd.c_str()) != 0) {
        _exit(126);
      }
      execve(binary.c_str(), args.data(), envp.data());
      _exit(127);
    }
  }
  ~Tool() {
    if (pid_ > 0) kill(-pid_, SIGKILL);
    if (pid_ > 0 && !exited_) waitpid(pid_, nullptr, 0);
  }

  // True once it exited, within `deadline`.
  bool Wait(std::chrono::milliseconds deadline) {
    return testing::WaitUntil(
        [this] {
          if (!exited_ && waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
          return exited_;
        },
        deadline);
  }
  int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  int signal() const { return WIFSIGNALED(status_) ? WTERMSIG(status_) : 0; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

std::string Describe(const std::vector<testing::FakeAnthropicRequest>& requests) {
  std::string out;
  for (const auto& r : requests) {
    out += r.method + " " + r.target + (r.model.empty() ? "" : " model=" + r.model) +
           (r.stream ? " stream" : "") + " -> " + r.answer + "\n";
  }
  return out;
}

struct ClaudeRun {
  std::string stdout_text;
  std::string stderr_text;
  int exit_code = -1;
  tools::ToolVerdict verdict;
};

// Runs the claude-code adapter's launch for `task` with the real CLI against `fake`.
ClaudeRun RunClaude(const v1::RunTask& task, const FakeAnthropic& fake, const TempDir& home,
                    const TempDir& workspace) {
  const std::string claude = FindOnPath("claude");
  if (claude.empty()) {
    FAIL("the Claude Code CLI (`claude`) is not on PATH: run scripts/install-deps.sh");
  }
  const tools::ToolAdapter* adapter = tools::FindAdapter("claude-code");
  REQUIRE(adapter != nullptr);
  auto launch = adapter->Prepare(task, {fake.url(), "sk-ant-test-key", "", ""});
  REQUIRE(launch);
  REQUIRE(launch->argv.front() == "claude");

  // Only what the runner would give it: no ~/.claude of whoever runs the tests.
  std::map<std::string, std::string> env = launch->env;
  env["PATH"] = std::getenv("PATH");
  env["HOME"] = home.path();
  const std::string out = home / "stdout.jsonl";
  const std::string err = home / "stderr.txt";
  ClaudeRun run;
  {
    Tool tool(claude, launch->argv, env, workspace.path(), out, err);
    const bool exited = tool.Wait(std::chrono::seconds(60));
    run.stdout_text = ReadFile(out);
    run.stderr_text = ReadFile(err);
    INFO("stderr:\n" << run.stderr_text << "\nrequests:\n" << Describe(fake.requests()));
    REQUIRE(exited);
    run.exit_code = tool.exit_code();
    // Fed in uneven pieces, as a pipe would deliver it.
    for (size_t i = 0, n = 1; i < run.stdout_text.size(); i += n, n = n * 3 % 4093 + 1) {
      launch->run->OnStdout(std::string_view(run.stdout_text).substr(i, n));
    }
    run.verdict = launch->run->Finish(tool.exit_code(), tool.signal());
  }
  return run;
}

v1::RunTask ClaudeTask(const std::string& prompt, const std::string& max_turns) {
  v1::RunTask task;
  task.set_task_id("t-claude");
  task.set_project("demo");
  task.set_tool("claude-code");
  task.set_prompt(prompt);
  (*task.mutable_options())["max_turns"] = max_turns;
  return task;
}

TEST_CASE("Claude Code writes the scripted file and the adapter judges its run a success",
          "[claude]") {
  FakeAnthropic fake({.write_file = "hello.txt",
                      .content = "hello from autovibe\n",
                      .final_text = "Created hello.txt."});
  REQUIRE(fake.Start());
  TempDir home("av-claude-home");
  TempDir workspace("av-claude-ws");

  const ClaudeRun run =
      RunClaude(ClaudeTask("Create hello.txt saying hello.", "5"), fake, home, workspace);
  const auto requests = fake.requests();
  INFO("stdout:\n"
       << run.stdout_text << "\nstderr:\n"
       << run.stderr_text << "\nrequests:\n"
       << Describe(requests));
  CHECK(run.exit_code == 0);
  CHECK(ReadFile(workspace / "hello.txt") == "hello from autovibe\n");

  CHECK(run.verdict.outcome == v1::TASK_OUTCOME_SUCCEEDED);
  CHECK(run.verdict.reason.empty());
  CHECK(run.verdict.report.result_subtype() == "success");
  CHECK(run.verdict.report.turns() >= 2);
  CHECK(run.verdict.report.session_id().size() >= 8);
  CHECK(run.verdict.report.reported_cost_micros() > 0);  // from the fake's usage figures

  // One streamed call answered with the tool call, one carrying the tool's result answered with
  // the final text; nothing refused.
  CHECK(fake.CountAnswers("tool_use") == 1);
  CHECK(fake.CountAnswers("final_text") == 1);
  CHECK(fake.CountAnswers("error") == 0);
  for (const auto& r : requests) {
    if (r.answer == "tool_use") {
      CHECK(r.stream);
      CHECK(r.written_path == workspace / "hello.txt");
    }
    if (r.answer == "final_text") {
      CHECK(r.stream);
      CHECK_THAT(r.body, Catch::Contains("\"tool_result\"") && Catch::Contains("toolu_fake"));
    }
  }
}

TEST_CASE("Claude Code stopped by max turns is judged a failure that says so", "[claude]") {
  FakeAnthropic fake;
  REQUIRE(fake.Start());
  TempDir home("av-claude-home");
  TempDir workspace("av-claude-ws");

  const ClaudeRun run = RunClaude(ClaudeTask("Create hello.txt.", "1"), fake, home, workspace);
  INFO("stdout:\n" << run.stdout_text << "\nstderr:\n" << run.stderr_text);
  CHECK(run.verdict.outcome == v1::TASK_OUTCOME_FAILED);
  CHECK(run.verdict.report.result_subtype() == "error_max_turns");
  CHECK(run.verdict.reason == "claude-code stopped after reaching max turns (1)");
  CHECK(fake.CountAnswers("final_text") == 0);
}

TEST_CASE("FakeAnthropic answers like the Messages API", "[fake]") {
  FakeAnthropic fake;
  REQUIRE(fake.Start());
  auto call = [&](const std::string& method, const std::string& target, const std::string& body) {
    auto reply = SendHttp({.method = method, .url = fake.url() + target, .body = body});
    REQUIRE(reply);
    return *reply;
  };
  // (HEAD / is left to the Claude Code test: the HTTP client here would wait for a body.)
  CHECK(call("GET", "/", "").status == 200);

  const HttpReply bad = call("POST", "/v1/messages", "{not json");
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("\"invalid_request_error\""));
  CHECK(call("POST", "/v1/messages", R"({"model":"m"})").status == 400);
  CHECK(call("GET", "/v1/models/x", "").status == 404);

  const std::string ask = R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[)"
                          R"({"role":"user","content":"hi"}])";
  const HttpReply plain = call("POST", "/v1/messages", ask + "}");
  CHECK(plain.status == 200);
  CHECK_THAT(plain.body, Catch::Contains(R"("type":"message")") &&
                             Catch::Contains(R"("text":"OK")") &&
                             Catch::Contains(R"("model":"claude-haiku-4-5")") &&
                             Catch::Contains(R"("output_tokens":1)"));

  const HttpReply streamed = call("POST", "/v1/messages?beta=true", ask + R"(,"stream":true})");
  CHECK(streamed.status == 200);
  CHECK(streamed.content_type == "text/event-stream");
  std::string events;
  std::stringstream lines(streamed.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("event: ", 0) == 0) events += line.substr(7) + " ";
  }
  CHECK(events ==
        "message_start ping content_block_start content_block_delta content_block_stop "
        "message_delta message_stop ");

  const HttpReply count = call("POST", "/v1/messages/count_tokens", ask + "}");
  CHECK_THAT(count.body, Catch::Contains("\"input_tokens\":"));
  CHECK(fake.CountAnswers("side_text") == 2);
  CHECK(fake.requests().size() == 7);
}

}  // namespace
}  // namespace autovibe
