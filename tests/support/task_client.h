// Test support: submitting and watching tasks through a real controller's API.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/fleet_harness.h"
#include "tests/support/process.h"

namespace autovibe::testing {

class TaskClient {
 public:
  explicit TaskClient(ControllerProcess& c) : c_(c) {}

  // POST /v1/projects; REQUIREs 201.
  void CreateProject(const std::string& name);
  // POST /v1/tasks for a shell command; `extra` fields are merged in. REQUIREs 201.
  std::string SubmitShell(const std::string& project, std::vector<std::string> argv,
                          boost::json::object extra = {});
  std::string Submit(boost::json::object body);
  // GET /v1/tasks/{id}; an empty object if the controller did not answer.
  boost::json::object Task(const std::string& id);
  std::string State(const std::string& id);
  // Waits until the task is in `state`; on timeout, prints the task and returns false.
  bool WaitState(const std::string& id, const std::string& state,
                 std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // Every log chunk's data, concatenated in order.
  std::string Logs(const std::string& id);
  // POST /v1/tasks/{id}/cancel; the HTTP status.
  int Cancel(const std::string& id);

 private:
  ControllerProcess& c_;
};

// Whether any process is left in process group `pgid`.
bool GroupAlive(pid_t pgid);
// The process group of `pid` from /proc, or -1.
pid_t ProcessGroupOf(pid_t pid);

}  // namespace autovibe::testing
