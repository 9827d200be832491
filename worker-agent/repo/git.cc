#include "worker-agent/repo/git.h"

#include <cstdlib>

#include "common/core/run_program.h"

namespace autovibe::repo {
namespace {

// The helper answers with the credential from its own environment; git asks it only for the
// host it fetches from or pushes to.
constexpr const char* kTokenHelper =
    "credential.helper=!f() { test \"$1\" = get || exit 0; "
    "case \"$AV_GIT_TOKEN\" in *:*) echo \"username=${AV_GIT_TOKEN%%:*}\"; "
    "echo \"password=${AV_GIT_TOKEN#*:}\";; *) echo username=x-access-token; "
    "echo \"password=$AV_GIT_TOKEN\";; esac; }; f";

std::vector<std::string> Environment(const GitEnv& env) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> out = {
      std::string("PATH=") + (path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"),
      "HOME=" + env.home,
      "LANG=C",
      "LC_ALL=C",
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_TERMINAL_PROMPT=0",
      "GIT_ASKPASS=/bin/false",
      "SSH_ASKPASS=/bin/false",
      // A URL from a task may not pick a transport autovibe did not allow.
      "GIT_PROTOCOL_FROM_USER=0",
      "GIT_ALLOW_PROTOCOL=https:http:ssh:git:file",
  };
  if (!env.token.empty()) out.push_back("AV_GIT_TOKEN=" + env.token);
  std::string ssh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new";
  if (!env.known_hosts.empty()) ssh += " -o UserKnownHostsFile=" + env.known_hosts;
  if (!env.ssh_key_file.empty()) ssh += " -o IdentitiesOnly=yes -i " + env.ssh_key_file;
  out.push_back("GIT_SSH_COMMAND=" + ssh);
  out.insert(out.end(), env.vars.begin(), env.vars.end());
  return out;
}

}  // namespace

Result<std::string> Git(const GitEnv& env, const GitCall& call) {
  ProgramRun run;
  run.argv = {"git",
              "-c",
              "core.hooksPath=/dev/null",
              "-c",
              "core.fsmonitor=false",
              "-c",
              "core.autocrlf=false",
              "-c",
              "gc.auto=0",
              "-c",
              "maintenance.auto=false",
              "-c",
              "credential.helper=",
              "-c",
              env.token.empty() ? "credential.helper=" : kTokenHelper};
  run.argv.insert(run.argv.end(), call.args.begin(), call.args.end());
  run.env = Environment(env);
  run.cwd = call.cwd;
  run.timeout = env.timeout;
  run.stdout_apart = true;
  run.stdout_path = call.stdout_path;
  auto out = RunProgram(run);
  if (!out) {
    std::string message = out.error().message;
    // "git exited with 128: fatal: ..." reads better as git's own words.
    if (const size_t at = message.find(": "); message.starts_with("git exited with")) {
      message = message.substr(at + 2);
    }
    return MakeError(out.error().code, message);
  }
  std::string text = std::move(*out);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace autovibe::repo
