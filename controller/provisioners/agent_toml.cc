#include "controller/provisioners/agent_toml.h"

#include <toml++/toml.h>

#include <sstream>

namespace autovibe {
namespace {

constexpr std::string_view kOwnedKeys[] = {
    "nats",     "nats_user", "nats_password", "nats_ca_pem", "name",
    "data_dir", "backend",   "labels",        "machine_id",  "subject_prefix"};

}  // namespace

Result<std::string> RenderAgentToml(const MachineLaunch& launch, const AgentTomlOptions& options) {
  toml::table extra;
  try {
    extra = toml::parse(options.extra_toml);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kBadConfig, "the pool's agent settings are not valid TOML: " +
                                                std::string(e.description()));
  }
  for (std::string_view k : kOwnedKeys) {
    if (extra.contains(k)) {
      return MakeError(ErrorCode::kBadConfig, "the pool's agent settings may not set \"" +
                                                  std::string(k) +
                                                  "\": the provisioner sets it for each machine");
    }
  }
  toml::table t;
  t.insert("nats", launch.agent.nats_url);
  if (!launch.agent.nats_user.empty()) {
    t.insert("nats_user", launch.agent.nats_user);
    t.insert("nats_password", launch.agent.nats_password);
  }
  if (!launch.agent.nats_ca_pem.empty()) t.insert("nats_ca_pem", launch.agent.nats_ca_pem);
  t.insert("name", launch.name);
  t.insert("machine_id", launch.machine_id);
  t.insert("data_dir", options.data_dir);
  t.insert("backend", options.backend);
  t.insert("subject_prefix", launch.agent.subject_prefix);
  toml::table labels;
  for (const auto& [k, v] : launch.agent.labels) labels.insert(k, v);
  t.insert("labels", std::move(labels));
  for (auto&& [k, v] : extra) t.insert(k, v);
  std::ostringstream out;
  out << "# Written by the autovibe controller for machine " << launch.machine_id << ".\n"
      << t << "\n";
  return out.str();
}

}  // namespace autovibe
