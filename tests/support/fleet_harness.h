// Test support: real controller and agent processes built from this tree.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "tests/support/process.h"

namespace autovibe::testing {

std::string BinPath(const std::string& name);  // build/bin/<name>

// How the harness's controller serves its API: plain http on loopback (--plain-http; what
// most tests use), or https as users run it (the self-signed certificate it makes in its data
// dir, or the one `extra_args` gives with --tls-cert: then set_ca_file).
enum class ApiScheme { kHttp, kHttps };

class ControllerProcess {
 public:
  // Starts autovibe-controller on a free port (or `port` when given) and waits for /healthz.
  ControllerProcess(const std::string& data_dir, const std::string& nats_url,
                    std::vector<std::string> extra_args = {}, uint16_t port = 0,
                    ApiScheme scheme = ApiScheme::kHttp);
  void Start();
  void Kill() { proc_.Kill(); }
  ChildProcess& process() { return proc_; }

  std::string base_url() const {
    return (scheme_ == ApiScheme::kHttps ? "https://127.0.0.1:" : "http://127.0.0.1:") +
           std::to_string(port_);
  }
  // https: what Call trusts, the controller's self-signed certificate by default.
  std::string ca_file() const;
  void set_ca_file(std::string path) { ca_file_ = std::move(path); }
  uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }

  // GET/POST with the admin token (or `token` when given).
  Result<HttpReply> Call(const std::string& method, const std::string& path,
                         std::optional<std::string> token = std::nullopt,
                         const std::string& body = "");
  // `method` on `path` with the admin token and `body` (none when null): the answer's JSON, or
  // nothing unless the API answered 2xx with JSON.
  std::optional<boost::json::value> CallJson(const std::string& method, const std::string& path,
                                             const boost::json::value& body = nullptr);
  // GET path and parse the JSON body; throws on failure (for use inside REQUIRE).
  boost::json::value GetJson(const std::string& path);
  // POST /v1/machines with `body`; returns the new machine's id (throws unless 202).
  std::string SpawnMachine(const std::string& body);
  // The machines list, or an empty array if the API did not answer.
  boost::json::array Machines();
  // GET /v1/machines/{id_or_name}; an empty object if there is none (or no answer).
  boost::json::object Machine(const std::string& id_or_name);
  // Its state; "" if there is no such machine.
  std::string MachineState(const std::string& id_or_name);
  // The first machine with this name, if any.
  std::optional<boost::json::object> MachineByName(const std::string& name);
  // The value of one metric line, e.g. `autovibe_machines{state="ready"}`; -1 if absent.
  double Metric(const std::string& series);

 private:
  std::string data_dir_;
  std::string nats_url_;
  std::vector<std::string> extra_args_;
  uint16_t port_;
  ApiScheme scheme_;
  std::string ca_file_;
  std::string token_;
  ChildProcess proc_;
};

// A string field of a JSON object; "" when absent or not a string.
std::string JsonString(const boost::json::object& o, std::string_view key);

class AgentProcess {
 public:
  // `env` is added to the agent's environment (e.g. HOME, provider keys).
  AgentProcess(const std::string& name, const std::string& data_dir, const std::string& nats_url,
               std::vector<std::string> extra_args = {},
               std::map<std::string, std::string> env = {});
  void Start();
  void Kill() { proc_.Kill(); }
  ChildProcess& process() { return proc_; }
  const std::string& name() const { return name_; }
  // The agent keeps its machine id once the controller answered its registration, after
  // committing it: from then on a controller killed with -9 cannot lose the machine.
  bool HoldsMachineId() const;

 private:
  std::string name_;
  std::string data_dir_;
  std::string nats_url_;
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  ChildProcess proc_;
};

}  // namespace autovibe::testing
