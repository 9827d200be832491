// A fleet for the metering benchmarks: a fake Anthropic upstream (tests/fakes), a real
// nats-server, controller and agent on loopback, and helpers to hold tasks open and read
// their proxy credentials the way a tool sees them.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/fakes/fake_anthropic.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"

namespace autovibe::bench {

// What a task's tool got: the proxy's address, its token, its process id, and the user it runs
// as (a boxed task's own): the proxy honours its token only from sockets of that user
// (testing::SocketsOwnedBy).
struct ToolCredentials {
  std::string base_url;
  std::string token;
  pid_t pid = 0;
  uid_t uid = 0;
};

class MeteredFleet {
 public:
  // `usage` is what the fake reports for every answer.
  MeteredFleet(testing::UsageOverride usage, uint32_t task_slots);

  testing::FakeAnthropic& upstream() { return *anthropic_; }
  testing::ControllerProcess& controller() { return *controller_; }
  const std::string& agent_dir() const { return agent_dir_; }

  // POST with the admin token; the parsed answer, or nullopt unless a 2xx.
  std::optional<boost::json::value> Call(const std::string& method, const std::string& path,
                                         const boost::json::value& body = nullptr);
  bool CreateProject(const std::string& name);
  bool SetBudgets(const std::string& project, boost::json::array budgets);
  // Submits a shell task that writes its credentials to its workspace, then sleeps; returns
  // them once it runs (nullopt after `deadline`).
  std::optional<std::pair<std::string, ToolCredentials>> HoldTask(
      const std::string& project, std::chrono::milliseconds deadline = std::chrono::seconds(20));
  std::string TaskState(const std::string& id);
  // The ledger's total calls and usd micros for a project.
  std::pair<int64_t, int64_t> Ledger(const std::string& project);

 private:
  testing::TempDir dir_{"av-bench-meter"};
  std::unique_ptr<testing::FakeAnthropic> anthropic_;
  std::unique_ptr<testing::NatsServer> nats_;
  std::unique_ptr<testing::ControllerProcess> controller_;
  std::unique_ptr<testing::AgentProcess> agent_;
  std::string agent_dir_;
};

}  // namespace autovibe::bench
