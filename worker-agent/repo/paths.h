// Where the agent keeps its repository work, all under <data_dir>/repos (0700):
//   mirrors/<hash>.git    one bare mirror per repository URL, fetched into for every task
//   tasks/<task>.git      a task's own git dir of the agent's (never the task's): the base it
//                         started from and its index, for reading its result out of the
//                         workspace without running git in the task's own .git
//   results/<task>/       the result's diff and bundle until the controller fetched them
//   spares/<hash>/        a mirror's spare checkout, made ahead of the next task (spare.h)
//   spares/trash/         spares no task will use, removed off any task's path
//   home/                 git's empty $HOME; known_hosts for ssh
//   keys/<task>           a task's ssh key while git uses it
#pragma once

#include <string>

namespace autovibe::repo {

struct RepoPaths {
  std::string root;  // <data_dir>/repos

  explicit RepoPaths(const std::string& data_dir) : root(data_dir + "/repos") {}
  std::string Mirrors() const { return root + "/mirrors"; }
  std::string Mirror(const std::string& url) const;
  std::string Spares() const { return root + "/spares"; }
  // The spare checkout of the mirror at `mirror` (a path Mirror() gave).
  std::string Spare(const std::string& mirror) const;
  std::string Trash() const { return Spares() + "/trash"; }
  std::string Tasks() const { return root + "/tasks"; }
  std::string TaskGitDir(const std::string& task_id) const {
    return Tasks() + "/" + task_id + ".git";
  }
  std::string Results() const { return root + "/results"; }
  std::string Result(const std::string& task_id) const { return Results() + "/" + task_id; }
  std::string Home() const { return root + "/home"; }
  std::string KnownHosts() const { return Home() + "/known_hosts"; }
  std::string Keys() const { return root + "/keys"; }
};

}  // namespace autovibe::repo
