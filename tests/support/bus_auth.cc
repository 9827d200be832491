#include "tests/support/bus_auth.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/http/client.h"

namespace autovibe::testing {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::optional<BusUsers>> buses;
  std::map<std::string, BusTls> tls;  // url -> what its clients verify it with
  std::map<std::string, std::pair<std::string, std::string>> controllers;  // url -> (api, token)
};

Registry& Reg() {
  static Registry r;
  return r;
}

bool Has(const std::vector<std::string>& args, std::string_view flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

}  // namespace

void RegisterBus(const std::string& url, std::optional<BusUsers> users) {
  std::lock_guard lock(Reg().mu);
  Reg().buses[url] = std::move(users);
}

void ForgetBus(const std::string& url) {
  std::lock_guard lock(Reg().mu);
  Reg().buses.erase(url);
  Reg().tls.erase(url);
  Reg().controllers.erase(url);
}

std::optional<BusUsers> BusUsersOf(const std::string& url) {
  std::lock_guard lock(Reg().mu);
  auto it = Reg().buses.find(url);
  return it == Reg().buses.end() ? std::nullopt : it->second;
}

void RegisterBusTls(const std::string& url, BusTls tls) {
  std::lock_guard lock(Reg().mu);
  Reg().tls[url] = std::move(tls);
}

BusTls BusTlsOf(const std::string& url) {
  std::lock_guard lock(Reg().mu);
  auto it = Reg().tls.find(url);
  return it == Reg().tls.end() ? BusTls{} : it->second;
}

std::vector<std::string> ControllerBusArgs(const std::string& url) {
  std::vector<std::string> args = AgentBusArgs(url, {});
  std::lock_guard lock(Reg().mu);
  auto it = Reg().buses.find(url);
  if (it == Reg().buses.end()) return args;
  if (!it->second) {
    args.push_back("--insecure-bus");
    return args;
  }
  const BusUsers& u = *it->second;
  args.insert(args.end(),
              {"--nats-user", u.controller_user, "--nats-password", u.controller_password,
               "--nats-auth-file", u.auth_file, "--nats-pid-file", u.pid_file});
  return args;
}

std::vector<std::string> AgentBusArgs(const std::string& url,
                                      const std::vector<std::string>& args) {
  const BusTls tls = BusTlsOf(url);
  if (tls.ca_file.empty() || Has(args, "--nats-ca")) return {};
  return {"--nats-ca", tls.ca_file};
}

BusOptions AdminBus(const std::string& url) {
  BusOptions o;
  o.url = url;
  o.tls = BusTlsOf(url);
  if (auto u = BusUsersOf(url)) {
    o.user = u->controller_user;
    o.password = u->controller_password;
  }
  return o;
}

void RegisterController(const std::string& url, const std::string& base_url,
                        const std::string& admin_token) {
  std::lock_guard lock(Reg().mu);
  Reg().controllers[url] = {base_url, admin_token};
}

std::string NewJoinToken(const std::string& url, const std::string& pool, const std::string& ttl) {
  std::pair<std::string, std::string> c;
  {
    std::lock_guard lock(Reg().mu);
    auto it = Reg().controllers.find(url);
    if (it == Reg().controllers.end()) {
      throw std::runtime_error("no controller serves the bus at " + url +
                               ": start it before the agents, which join with its tokens");
    }
    c = it->second;
  }
  boost::json::object body{{"ttl", ttl}};
  if (!pool.empty()) body["pool"] = pool;
  auto r = SendHttp({.method = "POST",
                     .url = c.first + "/v1/machines/join-tokens",
                     .bearer_token = c.second,
                     .body = boost::json::serialize(body),
                     .timeout = std::chrono::seconds(5)});
  if (!r || r->status != 201) {
    throw std::runtime_error("the controller made no join token: " +
                             (r ? std::to_string(r->status) + " " + r->body : r.error().message));
  }
  return std::string(boost::json::parse(r->body).at("token").as_string());
}

bool AgentNeedsJoinToken(const std::string& url, const std::string& data_dir,
                         const std::vector<std::string>& args) {
  if (!BusUsersOf(url)) return false;
  if (Has(args, "--join-token") || Has(args, "--join-token-file") || Has(args, "--nats-user")) {
    return false;
  }
  return !std::filesystem::exists(std::filesystem::path(data_dir) / "bus-user.toml");
}

}  // namespace autovibe::testing
