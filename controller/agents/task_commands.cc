#include "controller/agents/task_commands.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "common/core/repo_url.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr auto kAssignTimeout = std::chrono::seconds(5);
// A task seeded from a checkpoint starts once its workspace is written.
constexpr auto kSeedTimeout = std::chrono::seconds(120);
// A repository task starts once its repository is fetched and checked out.
constexpr auto kRepoTimeout = std::chrono::seconds(900);

// The commit message of a task's change: its title, else its prompt's first line.
std::string CommitMessage(const TaskRecord& t) {
  std::string title = t.spec.title;
  if (title.empty()) title = t.spec.prompt.substr(0, t.spec.prompt.find('\n'));
  if (title.size() > 72) title = title.substr(0, 69) + "...";
  if (title.empty()) title = "autovibe task " + t.id;
  std::string message = title + "\n\nautovibe task " + t.id + " (" + t.spec.tool + ")";
  if (t.spec.prompt.size() > title.size()) message += "\n\n" + t.spec.prompt.substr(0, 4000);
  return message + "\n";
}

AssignAnswer ReadAnswer(const Result<std::string>& raw) {
  AssignAnswer a;
  v1::CommandReply reply;
  if (!raw) {
    a.error_code = raw.error().code;
    a.error =
        raw.error().code == ErrorCode::kNoResponders ? "no agent listening" : raw.error().message;
  } else if (!reply.ParseFromString(*raw)) {
    a.error = "undecodable reply";
  } else {
    a.ok = reply.ok();
    // Named on the wire by the agent; a name this version does not know just fails the try.
    a.error_code = ParseErrorCode(reply.error_code()).value_or(ErrorCode::kFailed);
    a.error = reply.error();
  }
  return a;
}

}  // namespace

void NatsTaskCommands::RunTask(const TaskRecord& t, std::function<void(AssignAnswer)> done) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  v1::RunTask* run = cmd.mutable_run_task();
  run->set_task_id(t.id);
  run->set_project(t.project);
  run->set_tool(t.spec.tool);
  run->set_prompt(t.spec.prompt);
  for (const auto& a : t.spec.command) run->add_command(a);
  for (const auto& [k, v] : t.spec.env) (*run->mutable_env())[k] = v;
  for (const auto& [k, v] : t.spec.options) (*run->mutable_options())[k] = v;
  run->set_timeout_ms(t.spec.timeout_s * 1000u);
  run->set_attempt(t.attempts);
  run->set_max_usd_micros(t.spec.max_usd_micros);
  if (!t.resume_machine.empty() && t.resume_machine == t.machine_id) {
    run->set_resume(true);
    run->set_resume_session(t.report.session_id);
  }
  // A task continued elsewhere, or submitted from a checkpoint, starts from it: the checkpoint
  // is brought onto the machine first (only the objects it lacks travel).
  const std::string from =
      d_.checkpoints != nullptr && !run->resume() ? d_.checkpoints->StartingPoint(t) : "";
  if (!from.empty()) run->set_from_checkpoint(from);
  const bool repo = !t.spec.repo.url.empty();
  if (repo) {
    v1::RepoSpec* r = run->mutable_repo();
    r->set_url(t.spec.repo.url);
    r->set_ref(t.spec.repo.ref);
    r->set_branch(t.spec.repo.branch);
    const auto author = ParseAuthor(t.spec.repo.author);
    r->set_author_name(author ? author->name : "autovibe");
    r->set_author_email(author ? author->email : "autovibe@" + t.project + ".invalid");
    r->set_message(CommitMessage(t));
    r->set_keep_on_failure(t.spec.repo.publish_on_failure);
    if (!t.spec.repo.secret.empty() && d_.secret) {
      if (auto value = d_.secret(t.spec.repo.secret)) r->set_credential(*value);
    }
  }
  // The decision is durable before the agent hears of it: a restart never forgets a task
  // that is running somewhere.
  d_.batch->AfterCommit([this, machine = t.machine_id, from, repo, data = cmd.SerializeAsString(),
                         done = std::move(done)]() mutable {
    if (from.empty())
      return Send(machine, data, repo ? kRepoTimeout : kAssignTimeout, std::move(done));
    d_.checkpoints->Branch(
        from, machine, [this, machine, from, repo, data, done](Result<BranchOutcome> r) {
          if (stopped_) return;
          if (r) return Send(machine, data, repo ? kRepoTimeout : kSeedTimeout, done);
          // A checkpoint nobody has any more fails the task; one on a
          // machine that cannot answer now waits.
          done({.ok = false,
                .error_code = r.error().code == ErrorCode::kNotFound ? ErrorCode::kBadTask
                                                                     : ErrorCode::kUnavailable,
                .error =
                    "cannot bring checkpoint " + from + " onto the machine: " + r.error().message});
        });
  });
}

void NatsTaskCommands::Send(const std::string& machine, const std::string& data, Duration timeout,
                            std::function<void(AssignAnswer)> done) {
  d_.bus->RequestAsync(Subjects(d_.subject_prefix).Command(machine), data, timeout,
                       [this, done = std::move(done)](Result<std::string> raw) {
                         asio::post(*d_.ioc, [this, done, raw = std::move(raw)] {
                           if (!stopped_) done(ReadAnswer(raw));
                         });
                       });
}

void NatsTaskCommands::Publish(const std::string& machine, std::string data,
                               std::string_view what) {
  d_.batch->AfterCommit([this, subject = Subjects(d_.subject_prefix).Command(machine),
                         data = std::move(data), what = std::string(what)] {
    if (auto r = d_.bus->Publish(subject, data); !r) {
      spdlog::warn("controller cannot send {}: {}", what, r.error().message);
    }
  });
}

void NatsTaskCommands::CancelTask(const std::string& machine_id, const std::string& task_id,
                                  const std::string& reason, Duration delay) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  cmd.mutable_cancel_task()->set_task_id(task_id);
  cmd.mutable_cancel_task()->set_reason(reason);
  cmd.mutable_cancel_task()->set_delay_ms(static_cast<uint32_t>(delay.count()));
  // Fire and forget: a copy that keeps running shows up in the next heartbeat and is
  // cancelled again.
  Publish(machine_id, cmd.SerializeAsString(), "cancel");
}

void NatsTaskCommands::PauseTask(const std::string& machine_id, const std::string& task_id,
                                 const std::string& reason, Duration delay) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  cmd.mutable_pause_task()->set_task_id(task_id);
  cmd.mutable_pause_task()->set_reason(reason);
  cmd.mutable_pause_task()->set_delay_ms(static_cast<uint32_t>(delay.count()));
  // Like a cancel: a copy that keeps running shows up in the next heartbeat and is stopped.
  Publish(machine_id, cmd.SerializeAsString(), "pause");
}

}  // namespace autovibe
