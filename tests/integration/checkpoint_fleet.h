// A fleet for checkpoint tests: a real nats-server, controller and two agent processes
// ("agent-1", "agent-2", labelled box=<name>) whose tools call a fake Anthropic API through
// the agents' metering proxies; the agents checkpoint 200 ms after LLM responses.
#pragma once

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/fake_anthropic.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

namespace autovibe::testing {

inline constexpr const char* kCheckpointTestKey = "sk-ant-checkpoint-test";

inline std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One LLM call through the proxy, as any tool makes it.
inline const std::string kLlmCall =
    "curl -sS -o /dev/null \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: "
    "$ANTHROPIC_API_KEY\" -H 'anthropic-version: 2023-06-01' -H 'content-type: "
    "application/json' -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":32,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'";

// Waits (at most 10 s) until this agent's store holds N checkpoints: the tool goes on only
// once the checkpoint after its last LLM call is taken.
inline std::string WaitForCheckpoints(int n) {
  return "i=0; until [ \"$(ls ../../checkpoints/checkpoints | wc -l)\" -ge " + std::to_string(n) +
         " ]; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done";
}

struct CheckpointFleet {
  FakeAnthropic anthropic{FakeAnthropicScript{.api_key = kCheckpointTestKey}};
  TempDir dir;
  NatsServer nats{dir / "nats"};
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<TaskClient> tasks;
  std::vector<std::unique_ptr<AgentProcess>> agents;
  std::map<std::string, std::string> ids;  // machine name -> id

  // `agent_args` are added to every agent's command line.
  explicit CheckpointFleet(std::vector<std::string> controller_args = {},
                           std::vector<std::string> agent_args = {}) {
    using namespace std::chrono_literals;
    REQUIRE(anthropic.Start());
    controller =
        std::make_unique<ControllerProcess>(dir / "controller", nats.url(), controller_args);
    tasks = std::make_unique<TaskClient>(*controller);
    for (const std::string name : {"agent-1", "agent-2"}) {
      std::vector<std::string> args{"--label", "box=" + name, "--upstream",
                                    "anthropic=" + anthropic.url(), "--checkpoint-every", "200ms",
                                    // Unboxed: a task here waits for its checkpoints by looking
                                    // into its agent's store (WaitForCheckpoints), which a
                                    // boxed task cannot see.
                                    "--task-user", "root"};
      args.insert(args.end(), agent_args.begin(), agent_args.end());
      agents.push_back(std::make_unique<AgentProcess>(
          name, dir / name, nats.url(), std::move(args),
          std::map<std::string, std::string>{{"ANTHROPIC_API_KEY", kCheckpointTestKey}}));
    }
    const bool ready = WaitUntil(
        [&] {
          for (const std::string name : {"agent-1", "agent-2"}) {
            auto m = controller->MachineByName(name);
            if (!m || m->at("state").as_string() != "ready") return false;
            ids[name] = std::string(m->at("id").as_string());
          }
          return true;
        },
        60s);
    if (!ready) FAIL("the agents are not ready after 60 s; logs:\n" << LogTails(dir.path()));
    tasks->CreateProject("demo");
  }

  std::filesystem::path Workspace(const std::string& agent, const std::string& task) const {
    return std::filesystem::path(dir / agent) / "workspaces" / task;
  }

  // On `agent`, or anywhere when it is empty.
  std::string Run(const std::string& agent, const std::string& script,
                  std::string from_checkpoint = "") {
    boost::json::object extra;
    if (!agent.empty()) extra["labels"] = boost::json::object{{"box", agent}};
    if (!from_checkpoint.empty()) extra["from_checkpoint"] = from_checkpoint;
    return tasks->SubmitShell("demo", {"sh", "-c", script}, std::move(extra));
  }

  boost::json::array CheckpointsOf(const std::string& task) {
    return controller->GetJson("/v1/checkpoints?task=" + task).at("checkpoints").as_array();
  }

  boost::json::object Post(const std::string& path, const std::string& body, int want) {
    auto r = controller->Call("POST", path, std::nullopt, body);
    REQUIRE(r);
    INFO(path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == want);
    return boost::json::parse(r->body).as_object();
  }
};

}  // namespace autovibe::testing
