// Test support: fleets run with bus users on, as users run them. Every NatsServer starts with
// authorization (a controller user, and the users file the controller rewrites with one user
// per machine and per live join token) unless it is made with InsecureBus{why}. A
// ControllerProcess and an AgentProcess find the bus they are given here, by its URL: the
// controller starts with its user and the users file (or --insecure-bus on a bus made
// insecure), and an agent with no bus user of its own yet joins with a fresh join token from
// the controller serving that bus.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bus/bus.h"

namespace autovibe::testing {

// Makes a NatsServer without users; `why` says what the test needs an open bus for.
struct InsecureBus {
  std::string why;
};

// A bus with users: the controller's own, and the files the controller writes and signals.
struct BusUsers {
  std::string controller_user;
  std::string controller_password;
  std::string auth_file;  // included by nats-server's config; rewritten by the controller
  std::string pid_file;   // nats-server's pid file
};

// Set by NatsServer for its URL (nullopt: an insecure bus); forgotten when it goes.
void RegisterBus(const std::string& url, std::optional<BusUsers> users);
void ForgetBus(const std::string& url);
// The users of the bus at `url`; nullopt for an insecure bus or one the harness did not start.
std::optional<BusUsers> BusUsersOf(const std::string& url);

// Set by a NatsServer speaking TLS: the CA its clients verify it with.
void RegisterBusTls(const std::string& url, BusTls tls);
// The TLS settings a client of the bus at `url` needs; empty for a bus without TLS.
BusTls BusTlsOf(const std::string& url);

// The flags a controller on the bus at `url` starts with: its user and the users file, or
// --insecure-bus for a bus made insecure; nothing for a bus the harness did not start; and
// --nats-ca on a bus with TLS.
std::vector<std::string> ControllerBusArgs(const std::string& url);

// --nats-ca for an agent on a bus with TLS, unless `args` names a CA already.
std::vector<std::string> AgentBusArgs(const std::string& url, const std::vector<std::string>& args);

// Options for a client logged in as the controller (allowed every subject): for tests that
// publish what no machine may, to see the controller refuse it. Anonymous on an insecure bus.
BusOptions AdminBus(const std::string& url);

// Set by ControllerProcess::Start: the controller serving the bus at `url`.
void RegisterController(const std::string& url, const std::string& base_url,
                        const std::string& admin_token);

// A fresh join token from the controller serving the bus at `url`
// (POST /v1/machines/join-tokens). Throws when there is none or it refuses.
std::string NewJoinToken(const std::string& url, const std::string& pool = "",
                         const std::string& ttl = "10m");

// Whether an agent started with `args` in `data_dir` on the bus at `url` needs a join token
// from the harness: the bus has users, and the agent has none of its own yet nor is given one.
bool AgentNeedsJoinToken(const std::string& url, const std::string& data_dir,
                         const std::vector<std::string>& args);

}  // namespace autovibe::testing
