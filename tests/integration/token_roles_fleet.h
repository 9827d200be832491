// A fleet for the tests of tokens and roles: a real nats-server, controller and agent; two
// projects ("alpha", "beta") each with a finished task and its checkpoint, each checkpoint
// held by a task that waits for a machine no one has (so it cannot be deleted); and tokens of
// every role, for every project and for alpha alone.
#pragma once

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "common/core/files.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

namespace autovibe::testing {

// One caller's answer.
struct Answer {
  int status = 0;
  std::string code;     // the error's code; "" for a success
  std::string message;  // the error's message
  std::string body;
};

struct Objects {
  std::string project, task, checkpoint;
};

struct TokenRolesFleet {
  TempDir dir{"av-roles"};
  NatsServer nats{dir / "nats"};
  std::unique_ptr<ControllerProcess> controller;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<TaskClient> tasks;
  std::string machine;
  Objects alpha, beta;
  std::map<std::string, std::string> secrets;  // token name -> secret

  TokenRolesFleet() {
    using namespace std::chrono_literals;
    controller = std::make_unique<ControllerProcess>(
        dir / "controller", nats.url(),
        std::vector<std::string>{"--heartbeat-interval", "200ms", "--heartbeat-ttl", "2s"});
    agent = std::make_unique<AgentProcess>("agent-1", dir / "agent-1", nats.url());
    tasks = std::make_unique<TaskClient>(*controller);
    const bool ready = WaitUntil(
        [&] {
          auto m = controller->MachineByName("agent-1");
          if (!m || m->at("state").as_string() != "ready") return false;
          machine = std::string(m->at("id").as_string());
          return true;
        },
        60s);
    if (!ready) FAIL("the agent is not ready after 60 s; logs:\n" << LogTails(dir.path()));
    for (Objects* o : {&alpha, &beta}) {
      o->project = o == &alpha ? "alpha" : "beta";
      tasks->CreateProject(o->project);
      o->task = tasks->SubmitShell(
          o->project, {"sh", "-c", "echo " + o->project + "-words > notes.txt; echo done"});
    }
    for (Objects* o : {&alpha, &beta}) {
      REQUIRE(tasks->WaitState(o->task, "succeeded", 60s));
      REQUIRE(WaitUntil(
          [&] {
            auto list = controller->GetJson("/v1/checkpoints?task=" + o->task);
            if (list.at("checkpoints").as_array().empty()) return false;
            o->checkpoint = std::string(list.at("checkpoints").at(0).at("id").as_string());
            return true;
          },
          20s));
      // Waits for a machine labelled never=placed: holds the checkpoint (no delete).
      const std::string held = tasks->SubmitShell(
          o->project, {"true"},
          boost::json::object{{"from_checkpoint", o->checkpoint},
                              {"labels", boost::json::object{{"never", "placed"}}}});
      REQUIRE(tasks->State(held) == "queued");
    }
    for (const char* role : {"admin", "operator", "viewer"}) {
      MakeToken(std::string(role) + "-all", role, {});
      MakeToken(std::string(role) + "-alpha", role, {"alpha"});
    }
  }

  void MakeToken(const std::string& name, const std::string& role,
                 std::vector<std::string> projects, const std::string& expires = "") {
    boost::json::object body{{"name", name}, {"role", role}};
    if (!projects.empty()) {
      boost::json::array list;
      for (auto& p : projects) list.emplace_back(p);
      body["projects"] = std::move(list);
    }
    if (!expires.empty()) body["expires"] = expires;
    auto r = controller->Call("POST", "/v1/tokens", std::nullopt, boost::json::serialize(body));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    secrets[name] = std::string(boost::json::parse(r->body).at("token").as_string());
  }

  // `method path` with the token named `who` ("" for the bootstrap admin token).
  Answer Call(const std::string& who, const std::string& method, const std::string& path,
              const std::string& body = "") {
    auto r = controller->Call(method, path,
                              who.empty() ? std::nullopt : std::optional(secrets.at(who)), body);
    REQUIRE(r);
    Answer a{r->status, "", "", r->body};
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r->body, ec);
    if (!ec && v.is_object() && v.as_object().contains("error")) {
      a.code = std::string(v.at("error").at("code").as_string());
      a.message = std::string(v.at("error").at("message").as_string());
    }
    return a;
  }

  std::string ControllerLog() const {
    auto log = ReadFile(dir / ("controller-" + std::to_string(controller->port()) + ".log"));
    return log ? *log : "";
  }
};

}  // namespace autovibe::testing
