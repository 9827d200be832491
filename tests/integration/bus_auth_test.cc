// Bus authentication always (issue 17, item 3): the controller refuses an open bus unless
// told --insecure-bus, and says so at every start; agents started by hand enrol with one-time
// join tokens and keep a bus user of their own; one machine can neither read another's
// commands or inboxes nor have the controller's answers sent there.
#include <nats/nats.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "autovibe/v1/budget.pb.h"
#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "common/core/run_program.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct KeptUser {
  std::string machine_id, user, password;
};

KeptUser KeptUserOf(const std::string& data_dir) {
  toml::table t = toml::parse_file(data_dir + "/bus-user.toml");
  return {t["machine_id"].value_or(std::string()), t["nats_user"].value_or(std::string()),
          t["nats_password"].value_or(std::string())};
}

std::string Ready(ControllerProcess& c, const std::string& name) {
  std::string id;
  REQUIRE(WaitUntil(
      [&] {
        auto m = c.MachineByName(name);
        if (!m || m->at("state").as_string() != "ready") return false;
        id = std::string(m->at("id").as_string());
        return true;
      },
      20s));
  return id;
}

// Runs the agent to its end: it refuses to start. Returns its exit code; `log` gets its output.
int AgentRefuses(const std::string& dir, const std::string& name, const std::string& url,
                 const std::string& token, std::string& log) {
  ChildProcess p({BinPath("autovibe-agent"), "--name", name, "--data-dir", dir + "/" + name,
                  "--nats", url, "--join-token", token},
                 dir + "/" + name + ".log");
  const int code = p.Wait(30s);
  log = p.Log();
  return code;
}

// Messages a subscription got, as "subject data".
struct Heard {
  std::mutex mu;
  std::vector<std::string> seen;
  bool Has(const std::string& s) {
    std::lock_guard lock(mu);
    return std::find(seen.begin(), seen.end(), s) != seen.end();
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return seen.size();
  }
  Bus::Handler Handler() {
    return [this](BusMessage m) {
      std::lock_guard lock(mu);
      seen.push_back(m.subject + " " + m.data);
    };
  }
};

// A raw connection as one machine, for what the Bus seam never does: a request whose reply
// subject is another machine's inbox.
struct RawNats {
  natsConnection* nc = nullptr;
  RawNats(const std::string& url, const KeptUser& u) {
    natsOptions* o = nullptr;
    REQUIRE(natsOptions_Create(&o) == NATS_OK);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetUserInfo(o, u.user.c_str(), u.password.c_str());
    REQUIRE(natsConnection_Connect(&nc, o) == NATS_OK);
    natsOptions_Destroy(o);
  }
  ~RawNats() { natsConnection_Destroy(nc); }
  void PublishWithReply(const std::string& subject, const std::string& reply,
                        const std::string& data) {
    REQUIRE(natsConnection_PublishRequest(nc, subject.c_str(), reply.c_str(), data.data(),
                                          static_cast<int>(data.size())) == NATS_OK);
    natsConnection_FlushTimeout(nc, 2000);
  }
};

}  // namespace

TEST_CASE("the controller refuses an open bus unless told --insecure-bus, and warns each start",
          "[bus_auth]") {
  TempDir dir;
  NatsServer nats(dir / "nats", InsecureBus{"what the controller does on an open bus"});
  // No users, no --insecure-bus: it does not start, and says both ways out.
  auto refused = RunProgram({{BinPath("autovibe-controller"), "--data-dir", dir / "refused",
                              "--nats", nats.url(), "--listen", "127.0.0.1:0"},
                             30s});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("the bus has no users") &&
                                          Catch::Contains("--insecure-bus") &&
                                          Catch::Contains("nats_auth_file"));
  CHECK_FALSE(fs::exists(dir / "refused/controller.db"));

  // With --insecure-bus (the harness adds it for an insecure bus) it starts, loudly.
  ControllerProcess controller(dir / "controller", nats.url());
  const auto warnings = [&] {
    const std::string log = controller.process().Log();
    size_t n = 0;
    for (size_t at = log.find("INSECURE BUS"); at != std::string::npos;
         at = log.find("INSECURE BUS", at + 1)) {
      ++n;
    }
    return n;
  };
  CHECK(warnings() >= 1);
  CHECK(controller.Metric("autovibe_insecure_bus") == 1);
  auto health = controller.Call("GET", "/healthz", "");
  REQUIRE(health);
  CHECK(json::parse(health->body).at("insecure_bus").as_bool());
  // No join tokens on a bus without users.
  auto no_tokens = controller.Call("POST", "/v1/machines/join-tokens", std::nullopt, "{}");
  REQUIRE(no_tokens);
  CHECK(no_tokens->status == 409);
  CHECK_THAT(no_tokens->body, Catch::Contains("insecure"));
  // At every start.
  const size_t first = warnings();
  controller.process().Signal(SIGTERM);
  REQUIRE(controller.process().Wait(10s) == 0);
  controller.Start();
  CHECK(warnings() == 2 * first);  // three warning lines a start, the first one counted

  // On a bus with users nothing is said, and the metric says 0.
  TempDir secure_dir;
  NatsServer secure(secure_dir / "nats");
  ControllerProcess safe(secure_dir / "controller", secure.url());
  CHECK(safe.Metric("autovibe_insecure_bus") == 0);
  CHECK(safe.process().Log().find("INSECURE BUS") == std::string::npos);
  CHECK(
      json::parse(safe.Call("GET", "/healthz", "")->body).as_object().if_contains("insecure_bus") ==
      nullptr);
}

TEST_CASE("an agent joins with a one-time token and keeps a bus user of its own", "[bus_auth]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());

  // Nobody gets onto the bus without a user.
  auto anonymous = CheckNatsLogin(nats.url(), "", "", 2s);
  REQUIRE_FALSE(anonymous);
  CHECK(anonymous.error().code == ErrorCode::kUnauthorized);

  // The CLI makes the token, printing it alone.
  auto made = RunProgram(
      {{BinPath("autovibe"), "--controller", controller.base_url(), "--token", controller.token(),
        "machines", "join-token", "create", "--pool", "kvm", "--ttl", "10m"},
       30s});
  REQUIRE(made);
  const std::string token = made->substr(0, made->find('\n'));
  REQUIRE_THAT(token, Catch::StartsWith("j-"));
  const std::string token_id = token.substr(0, token.find('.'));
  const std::string secret = token.substr(token.find('.') + 1);

  AgentProcess agent("joiner", dir / "joiner", nats.url(), {"--join-token", token});
  const std::string id = Ready(controller, "joiner");
  CHECK(controller.Machine(id).at("labels").at("pool").as_string() == "kvm");
  // Its own user, kept private in its data dir.
  const KeptUser kept = KeptUserOf(dir / "joiner");
  CHECK(kept.machine_id == id);
  CHECK(kept.user == id);
  CHECK(kept.password.size() >= 32);
  CHECK(kept.password.find(secret) == std::string::npos);
  struct stat st {};
  REQUIRE(stat((dir / "joiner/bus-user.toml").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // The token's own user is gone from the bus once used.
  REQUIRE(WaitUntil([&] { return !CheckNatsLogin(nats.url(), token_id, secret, 2s); }, 10s));

  // Restarted, it comes back with the user it kept: same machine.
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().Wait(10s) == 0);
  agent.Start();
  REQUIRE(WaitUntil(
      [&] {
        return agent.process().Log().find("agent uses its own bus user machine_id=" + id) !=
               std::string::npos;
      },
      10s));
  CHECK(Ready(controller, "joiner") == id);
  CHECK(controller.Machines().size() == 1);

  // The same token a second time: refused, and nothing joins.
  std::string log;
  CHECK(AgentRefuses(dir.path(), "second", nats.url(), token, log) == 1);
  CHECK_THAT(log, Catch::Contains("refused join token " + token_id) &&
                      Catch::Contains("already used or expired"));
  CHECK_FALSE(fs::exists(dir / "second/bus-user.toml"));

  // An expired token: refused too.
  const std::string brief = NewJoinToken(nats.url(), "", "1s");
  const std::string brief_id = brief.substr(0, brief.find('.'));
  const std::string brief_secret = brief.substr(brief.find('.') + 1);
  // A new token is a bus user a moment after it is made, and no more once it expired.
  REQUIRE(WaitUntil([&] { return !!CheckNatsLogin(nats.url(), brief_id, brief_secret, 2s); }, 10s));
  REQUIRE(WaitUntil([&] { return !CheckNatsLogin(nats.url(), brief_id, brief_secret, 2s); }, 10s));
  CHECK(AgentRefuses(dir.path(), "late", nats.url(), brief, log) == 1);
  CHECK_THAT(log, Catch::Contains("refused join token " + brief_id));
  // Nor does a token that is not one get anywhere.
  CHECK(AgentRefuses(dir.path(), "typo", nats.url(), "not-a-token", log) == 1);
  CHECK_THAT(log, Catch::Contains("a join token looks like"));
  CHECK(controller.Machines().size() == 1);

  // Tokens outlive a controller restart: one made before is still good after.
  const std::string kept_token = NewJoinToken(nats.url());
  controller.process().Signal(SIGTERM);
  REQUIRE(controller.process().Wait(10s) == 0);
  controller.Start();
  AgentProcess after("after", dir / "after", nats.url(), {"--join-token", kept_token});
  const std::string after_id = Ready(controller, "after");
  CHECK(after_id != id);
  CHECK(KeptUserOf(dir / "after").user == after_id);
}

TEST_CASE("a machine reads neither another's commands nor its inboxes, nor gets answers there",
          "[bus_auth]") {
  TempDir dir;
  NatsServer nats(dir / "nats");
  ControllerProcess controller(dir / "controller", nats.url());
  AgentProcess agent_a("a", dir / "a", nats.url());  // each joins with a token of its own
  AgentProcess agent_b("b", dir / "b", nats.url());
  const std::string a = Ready(controller, "a");
  const std::string b = Ready(controller, "b");
  const KeptUser ua = KeptUserOf(dir / "a");
  const KeptUser ub = KeptUserOf(dir / "b");
  REQUIRE(ua.user == a);
  REQUIRE(ub.user == b);
  CHECK(ua.password != ub.password);

  auto admin = ConnectNats(AdminBus(nats.url()));
  REQUIRE(admin);
  auto as_a = ConnectNats(
      {.url = nats.url(), .user = ua.user, .password = ua.password, .inbox_prefix = "_INBOX_" + a});
  REQUIRE(as_a);

  // A subscribes to B's commands, B's inboxes and the default inboxes (the controller's own
  // replies): it gets none of it, only what is sent to its own.
  Heard got;
  std::vector<std::unique_ptr<Subscription>> subs;
  for (const std::string& s :
       {"av.cmd." + b, "_INBOX_" + b + ".>", std::string("_INBOX.>"), "av.cmd." + a}) {
    auto sub = (*as_a)->Subscribe(s, "test", 1 << 20, got.Handler());
    if (sub) subs.push_back(std::move(*sub));
  }
  REQUIRE(WaitUntil(
      [&] {
        (*admin)->Publish("av.cmd." + b, "for-b");
        (*admin)->Publish("_INBOX_" + b + ".x", "inbox-of-b");
        (*admin)->Publish("_INBOX.x", "default-inbox");
        (*admin)->Publish("av.cmd." + a, "for-a");
        return got.Has("av.cmd." + a + " for-a");
      },
      10s));
  CHECK_FALSE(got.Has("av.cmd." + b + " for-b"));
  CHECK_FALSE(got.Has("_INBOX_" + b + ".x inbox-of-b"));
  CHECK_FALSE(got.Has("_INBOX.x default-inbox"));

  // A asks the controller with B's inbox as the reply subject: no answer goes there.
  Heard spy;
  auto spy_sub = (*admin)->Subscribe("_INBOX_" + b + ".>", "test", 1 << 20, spy.Handler());
  REQUIRE(spy_sub);
  RawNats raw(nats.url(), ua);
  v1::LeaseRequest lease;
  lease.set_machine_id(a);
  lease.set_lease_id("l-forged");
  lease.set_task_id("t-none");
  v1::RegisterRequest reg;
  reg.set_name("a");
  reg.set_machine_id(a);
  const auto rejected = [&](const std::string& what) {
    return controller.Metric("autovibe_bus_messages_rejected_total{what=\"" + what +
                             "\",reason=\"bad_reply_subject\"}");
  };
  raw.PublishWithReply("av.lease." + a, "_INBOX_" + b + ".stolen", lease.SerializeAsString());
  raw.PublishWithReply("av.register." + a, "_INBOX_" + b + ".stolen", reg.SerializeAsString());
  REQUIRE(WaitUntil([&] { return rejected("lease") >= 1 && rejected("register") >= 1; }, 10s));
  // Asked properly, on its own inbox, the controller answers: the refusal above was the inbox.
  auto own = (*as_a)->Request("av.register." + a, reg.SerializeAsString(), 5s);
  REQUIRE(own);
  v1::RegisterReply reply;
  REQUIRE(reply.ParseFromString(*own));
  CHECK(reply.machine_id() == a);
  CHECK(spy.Count() == 0);
  CHECK(controller.MachineState(b) == "ready");
}
