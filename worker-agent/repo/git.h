// Running git for the agent's own repository work (mirrors, checkouts, results, pushes) with
// nothing of the machine's or a task's choosing: no system or global config, no hooks, no
// terminal prompts, only the transports autovibe allows (common/core/repo_url.h), and a
// credential, when given, through a helper that lives in git's environment only (never in a
// file or a URL).
//
// Blocking: call from a thread that may wait (RepoKeeper's pool), never the owner thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/result.h"

namespace autovibe::repo {

struct GitEnv {
  std::string home;  // an empty directory of the agent's: git's $HOME (no global config)
  // The repository's credential: a token ("TOKEN" or "USER:TOKEN") for http(s), a private key
  // file's path for ssh (ssh_key_file). Empty: none.
  std::string token;
  std::string ssh_key_file;
  std::string known_hosts;  // ssh: where host keys are remembered (first use accepted)
  // Extra variables (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, author and committer).
  std::vector<std::string> vars;
  std::chrono::milliseconds timeout{600'000};
};

struct GitCall {
  std::vector<std::string> args;  // after "git" and the agent's own -c settings
  std::string cwd;
  std::string stdout_path;  // stdout into this file instead of the answer
};

// Runs git; its stdout (trimmed of the last newline) or an error whose message is git's last
// line of stderr. Error codes as RunProgram's (common/core/run_program.h).
Result<std::string> Git(const GitEnv& env, const GitCall& call);

}  // namespace autovibe::repo
