#include "tests/bench/metered_fleet.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/budget/amounts.h"
#include "tests/support/process.h"

namespace autovibe::bench {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

MeteredFleet::MeteredFleet(testing::UsageOverride usage, uint32_t task_slots) {
  testing::FakeAnthropicScript script;
  script.write_file = "";  // every answer is a final text
  script.usage = usage;
  anthropic_ = std::make_unique<testing::FakeAnthropic>(script);
  if (!anthropic_->Start()) throw std::runtime_error("fake upstream did not start");
  nats_ = std::make_unique<testing::NatsServer>(dir_ / "nats");
  controller_ = std::make_unique<testing::ControllerProcess>(dir_ / "controller", nats_->url());
  agent_dir_ = dir_ / "agent";
  std::filesystem::create_directories(dir_ / "home");
  agent_ = std::make_unique<testing::AgentProcess>(
      "bench-agent", agent_dir_, nats_->url(),
      std::vector<std::string>{"--upstream", "anthropic=" + anthropic_->url(), "--task-slots",
                               std::to_string(task_slots), "--log-level", "warn"},
      std::map<std::string, std::string>{{"HOME", dir_ / "home"},
                                         {"ANTHROPIC_API_KEY", "sk-bench-real-key"}});
  const bool ready = testing::WaitUntil(
      [&] {
        auto m = controller_->MachineByName("bench-agent");
        return m && m->at("state").as_string() == "ready";
      },
      20s);
  if (!ready) throw std::runtime_error("the agent did not become ready");
}

std::optional<json::value> MeteredFleet::Call(const std::string& method, const std::string& path,
                                              const json::value& body) {
  return controller_->CallJson(method, path, body);
}

bool MeteredFleet::CreateProject(const std::string& name) {
  return Call("POST", "/v1/projects", json::object{{"name", name}}).has_value();
}

bool MeteredFleet::SetBudgets(const std::string& project, json::array budgets) {
  return Call("PUT", "/v1/projects/" + project + "/budgets",
              json::object{{"budgets", std::move(budgets)}})
      .has_value();
}

std::optional<std::pair<std::string, ToolCredentials>> MeteredFleet::HoldTask(
    const std::string& project, std::chrono::milliseconds deadline) {
  json::object body{
      {"project", project},
      {"tool", "shell"},
      {"command", json::array{"sh", "-c",
                              "echo \"$ANTHROPIC_BASE_URL $ANTHROPIC_API_KEY $$\" "
                              "> creds.tmp && mv creds.tmp creds && exec sleep 3600"}}};
  auto t = Call("POST", "/v1/tasks", body);
  if (!t) return std::nullopt;
  const std::string id(t->at("id").as_string());
  const std::string path = agent_dir_ + "/workspaces/" + id + "/creds";
  ToolCredentials c;
  const bool ok = testing::WaitUntil(
      [&] {
        std::istringstream in(ReadAll(path));
        return static_cast<bool>(in >> c.base_url >> c.token >> c.pid);
      },
      deadline, 5ms);
  if (!ok) return std::nullopt;
  // The tool wrote its pid as its box sees it: the host knows it by another.
  const std::string workspace = agent_dir_ + "/workspaces/" + id;
  const pid_t inner = c.pid;
  if (!testing::WaitUntil([&] { return (c.pid = testing::HostPid(workspace, inner)) > 0; },
                          deadline, 5ms)) {
    return std::nullopt;
  }
  const auto uid = testing::ProcessUid(c.pid);
  if (!uid) return std::nullopt;
  c.uid = *uid;
  return std::pair{id, c};
}

std::string MeteredFleet::TaskState(const std::string& id) {
  auto t = Call("GET", "/v1/tasks/" + id);
  return t ? std::string(t->at("state").as_string()) : "";
}

std::pair<int64_t, int64_t> MeteredFleet::Ledger(const std::string& project) {
  auto u = Call("GET", "/v1/usage?project=" + project);
  if (!u || u->at("rows").as_array().empty()) return {0, 0};
  const json::object& row = u->at("rows").as_array()[0].as_object();
  auto usd = ParseUsd(std::string(row.at("usd").as_string()));
  return {row.at("calls").to_number<int64_t>(), usd ? *usd : -1};
}

}  // namespace autovibe::bench
