// Agent settings: TOML file first, then command-line flags on top.
#pragma once

#include <map>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct AgentConfig {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_user;
  std::string nats_password;
  std::string name;  // defaults to the host name
  std::string data_dir = "/var/lib/autovibe/agent";
  std::string backend = "manual";  // set by the provisioner that started this agent
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> upstreams;  // provider -> URL or "mock"
  std::string subject_prefix = "av";
  std::string log_level = "info";
};

// Keys: nats, nats_user, nats_password, name, data_dir, backend, subject_prefix, log_level,
// [labels] table, [upstreams] table. Unknown keys are an error.
Result<void> LoadAgentConfigToml(std::string_view toml_text, AgentConfig& config);

// "k=v" -> (k, v); fails on a missing '=' or an empty key.
Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text);

// Checks values that parse but make no sense: the name, the subject prefix, the log level.
Result<void> ValidateAgentConfig(const AgentConfig& config);

struct ParsedAgentArgs {
  AgentConfig config;
  int exit_code = -1;  // -1: run
};
ParsedAgentArgs ParseAgentArgs(int argc, char** argv);

}  // namespace autovibe
