#include "tests/support/task_client.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe::testing {

namespace json = boost::json;

void TaskClient::CreateProject(const std::string& name) {
  auto r =
      c_.Call("POST", "/v1/projects", std::nullopt, json::serialize(json::object{{"name", name}}));
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 201);
}

std::string TaskClient::SubmitShell(const std::string& project, std::vector<std::string> argv,
                                    json::object extra) {
  json::array cmd;
  for (auto& a : argv) cmd.emplace_back(a);
  extra["project"] = project;
  extra["tool"] = "shell";
  extra["command"] = std::move(cmd);
  return Submit(std::move(extra));
}

std::string TaskClient::Submit(json::object body) {
  auto r = c_.Call("POST", "/v1/tasks", std::nullopt, json::serialize(body));
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 201);
  return std::string(json::parse(r->body).at("id").as_string());
}

json::object TaskClient::Task(const std::string& id) {
  auto r = c_.Call("GET", "/v1/tasks/" + id);
  if (!r || r->status != 200) return {};
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

std::string TaskClient::State(const std::string& id) {
  auto t = Task(id);
  auto* s = t.if_contains("state");
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
}

bool TaskClient::WaitState(const std::string& id, const std::string& state,
                           std::chrono::milliseconds deadline) {
  if (WaitUntil([&] { return State(id) == state; }, deadline, std::chrono::milliseconds(50))) {
    return true;
  }
  UNSCOPED_INFO("task " << id << " never became " << state << ": " << json::serialize(Task(id)));
  return false;
}

std::string TaskClient::Logs(const std::string& id) {
  std::string out;
  int64_t after = 0;
  for (;;) {
    auto r = c_.Call("GET", "/v1/tasks/" + id + "/logs?after=" + std::to_string(after));
    if (!r || r->status != 200) return out;
    auto v = json::parse(r->body).as_object();
    const auto& chunks = v.at("chunks").as_array();
    for (const auto& c : chunks) out += c.at("data").as_string();
    if (chunks.empty()) return out;
    after = v.at("next_after").to_number<int64_t>();
  }
}

int TaskClient::Cancel(const std::string& id) {
  auto r = c_.Call("POST", "/v1/tasks/" + id + "/cancel");
  return r ? r->status : 0;
}

bool GroupAlive(pid_t pgid) { return pgid > 0 && kill(-pgid, 0) == 0; }

pid_t ProcessGroupOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // pid (comm) state ppid pgrp ...; comm may hold spaces, so start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 1));
  std::string state;
  pid_t ppid = 0, pgrp = -1;
  rest >> state >> ppid >> pgrp;
  return pgrp;
}

}  // namespace autovibe::testing
