#include "tests/support/fleet_harness.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/bus_auth.h"

namespace autovibe::testing {

std::string BinPath(const std::string& name) { return std::string(AV_BIN_DIR) + "/" + name; }

ControllerProcess::ControllerProcess(const std::string& data_dir, const std::string& nats_url,
                                     std::vector<std::string> extra_args, uint16_t port,
                                     ApiScheme scheme)
    : data_dir_(data_dir),
      nats_url_(nats_url),
      extra_args_(std::move(extra_args)),
      port_(port ? port : FreePort()),
      scheme_(scheme) {
  Start();
}

std::string ControllerProcess::ca_file() const {
  return ca_file_.empty() ? data_dir_ + "/tls-cert.pem" : ca_file_;
}

void ControllerProcess::Start() {
  std::vector<std::string> argv = {
      BinPath("autovibe-controller"),      "--data-dir", data_dir_, "--nats", nats_url_, "--listen",
      "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  // Bus users on, as the harness's bus has them (bus_auth.h), unless the test says otherwise.
  const bool bus_set =
      std::find(extra_args_.begin(), extra_args_.end(), "--insecure-bus") != extra_args_.end() ||
      std::find(extra_args_.begin(), extra_args_.end(), "--nats-auth-file") != extra_args_.end();
  if (!bus_set) {
    for (auto& a : ControllerBusArgs(nats_url_)) argv.push_back(std::move(a));
  }
  if (scheme_ == ApiScheme::kHttp) argv.push_back("--plain-http");
  std::filesystem::create_directories(data_dir_);
  proc_ = ChildProcess(argv, data_dir_ + "/../controller-" + std::to_string(port_) + ".log");
  bool up = WaitUntil(
      [this] {
        // Whether it is up, not whom to trust: that is Call's.
        auto r = SendHttp({.url = base_url() + "/healthz",
                           .timeout = std::chrono::seconds(1),
                           .verify_tls = false});
        return r && r->status == 200;
      },
      std::chrono::seconds(15));
  if (!up) throw std::runtime_error("controller did not come up; log:\n" + proc_.Log());
  std::ifstream in(data_dir_ + "/admin.token");
  std::getline(in, token_);
  RegisterController(nats_url_, base_url(), token_);
}

Result<HttpReply> ControllerProcess::Call(const std::string& method, const std::string& path,
                                          std::optional<std::string> token,
                                          const std::string& body) {
  HttpCall call;
  call.method = method;
  call.url = base_url() + path;
  call.bearer_token = token.value_or(token_);
  call.body = body;
  // Some answers wait on an agent (a checkpoint asked for walks a workspace): a loaded CI
  // machine may take seconds, which is slow but not wrong.
  call.timeout = std::chrono::seconds(30);
  if (scheme_ == ApiScheme::kHttps) call.ca_file = ca_file();
  return SendHttp(call);
}

std::optional<boost::json::value> ControllerProcess::CallJson(const std::string& method,
                                                              const std::string& path,
                                                              const boost::json::value& body) {
  auto r = Call(method, path, std::nullopt,
                body.is_null() ? std::string() : boost::json::serialize(body));
  if (!r || r->status / 100 != 2) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r->body, ec);
  if (ec) return std::nullopt;
  return v;
}

boost::json::value ControllerProcess::GetJson(const std::string& path) {
  auto r = Call("GET", path);
  if (!r) throw std::runtime_error("GET " + path + ": " + r.error().message);
  if (r->status != 200) {
    throw std::runtime_error("GET " + path + ": status " + std::to_string(r->status) + " " +
                             r->body);
  }
  return boost::json::parse(r->body);
}

boost::json::array ControllerProcess::Machines() {
  auto r = Call("GET", "/v1/machines");
  if (!r || r->status != 200) return {};
  return boost::json::parse(r->body).at("machines").as_array();
}

std::string ControllerProcess::SpawnMachine(const std::string& body) {
  auto r = Call("POST", "/v1/machines", std::nullopt, body);
  if (!r) throw std::runtime_error("POST /v1/machines: " + r.error().message);
  if (r->status != 202) {
    throw std::runtime_error("POST /v1/machines answered " + std::to_string(r->status) + ": " +
                             r->body);
  }
  return JsonString(boost::json::parse(r->body).as_object(), "id");
}

boost::json::object ControllerProcess::Machine(const std::string& id_or_name) {
  auto r = Call("GET", "/v1/machines/" + id_or_name);
  if (!r || r->status != 200) return {};
  auto v = boost::json::parse(r->body);
  return v.is_object() ? v.as_object() : boost::json::object();
}

std::string ControllerProcess::MachineState(const std::string& id_or_name) {
  return JsonString(Machine(id_or_name), "state");
}

std::string JsonString(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<boost::json::object> ControllerProcess::MachineByName(const std::string& name) {
  for (auto& m : Machines()) {
    if (m.at("name").as_string() == name) return m.as_object();
  }
  return std::nullopt;
}

double ControllerProcess::Metric(const std::string& series) {
  auto r = Call("GET", "/metrics");
  if (!r || r->status != 200) return -1;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

AgentProcess::AgentProcess(const std::string& name, const std::string& data_dir,
                           const std::string& nats_url, std::vector<std::string> extra_args,
                           std::map<std::string, std::string> env)
    : name_(name),
      data_dir_(data_dir),
      nats_url_(nats_url),
      extra_args_(std::move(extra_args)),
      env_(std::move(env)) {
  Start();
}

bool AgentProcess::HoldsMachineId() const {
  return std::filesystem::exists(std::filesystem::path(data_dir_) / "machine_id");
}

void AgentProcess::Start() {
  std::vector<std::string> argv;
  if (!env_.empty()) {
    // env(1) sets the variables and execs the agent: same pid, so signals reach the agent.
    argv.push_back("/usr/bin/env");
    for (const auto& [k, v] : env_) argv.push_back(k + "=" + v);
  }
  argv.insert(argv.end(), {BinPath("autovibe-agent"), "--name", name_, "--data-dir", data_dir_,
                           "--nats", nats_url_});
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  for (auto& a : AgentBusArgs(nats_url_, extra_args_)) argv.push_back(std::move(a));
  // An agent with no bus user of its own yet joins with a token, as users start one.
  if (AgentNeedsJoinToken(nats_url_, data_dir_, extra_args_)) {
    argv.insert(argv.end(), {"--join-token", NewJoinToken(nats_url_)});
  }
  std::filesystem::create_directories(data_dir_);
  proc_ = ChildProcess(argv, data_dir_ + ".log");
}

}  // namespace autovibe::testing
