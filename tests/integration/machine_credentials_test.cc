// Per-machine bus credentials against a real nats-server with authorization on: the
// controller mints a user per machine it provisions, the agents work with them, and one
// machine's credentials cannot speak for another or read its commands.
#include <toml++/toml.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "autovibe/v1/machine.pb.h"
#include "common/bus/bus.h"
#include "tests/support/catch_result.h"
#include "tests/support/fleet_harness.h"
#include "tests/support/nats_server.h"
#include "tests/support/task_client.h"

using namespace autovibe;
using namespace autovibe::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Creds {
  std::string user, password;
};

Creds CredsOf(const std::string& agent_toml) {
  toml::table t = toml::parse_file(agent_toml);
  return {t["nats_user"].value_or(std::string()), t["nats_password"].value_or(std::string())};
}

// Messages a subscription received, by data.
struct Inbox {
  std::mutex mu;
  std::vector<std::string> seen;
  bool Has(const std::string& data) {
    std::lock_guard lock(mu);
    return std::find(seen.begin(), seen.end(), data) != seen.end();
  }
  Bus::Handler Handler() {
    return [this](BusMessage m) {
      std::lock_guard lock(mu);
      seen.push_back(m.subject + " " + m.data);
    };
  }
};

}  // namespace

TEST_CASE("each machine gets bus credentials that speak only for itself", "[machines]") {
  TempDir dir;
  KillOnExit cleanup(dir.path());
  // The harness's bus has users (bus_auth.h); the controller gets its own and the users file.
  NatsServer nats(dir / "nats");
  const std::string config = dir / "controller.toml";
  std::ofstream(config) << "[[pool]]\nname = \"local\"\nbackend = \"local\"\nmax = 2\n"
                           "[pool.agent]\nupstreams = { anthropic = \"mock\" }\n";
  ControllerProcess controller(dir / "controller", nats.url(), {"--config", config});

  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = controller.Call("POST", "/v1/machines", std::nullopt, "{}");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 202);
    ids.push_back(JsonString(json::parse(r->body).as_object(), "id"));
  }
  for (const auto& id : ids)
    REQUIRE(WaitUntil([&] { return controller.MachineState(id) == "ready"; }, 20s));
  const std::string a = ids[0], b = ids[1];

  // The agents work with their own users: a task runs, its events come through JetStream.
  TaskClient tasks(controller);
  tasks.CreateProject("demo");
  const std::string t = tasks.SubmitShell("demo", {"sh", "-c", "echo with-credentials"});
  REQUIRE(tasks.WaitState(t, "succeeded"));
  CHECK(tasks.Logs(t).find("with-credentials") != std::string::npos);

  // Without a user, or with a wrong password, the bus lets nobody in.
  const Creds ca = CredsOf(dir / "controller/machines/local-1/agent.toml");
  const Creds cb = CredsOf(dir / "controller/machines/local-2/agent.toml");
  CHECK(ca.user == a);
  CHECK(ca.password.size() >= 32);
  CHECK(ca.password != cb.password);
  CHECK_FALSE(CheckNatsLogin(nats.url(), "", "", 2s));
  CHECK_FALSE(CheckNatsLogin(nats.url(), a, "guess", 2s));
  CHECK(CheckNatsLogin(nats.url(), a, ca.password, 2s));

  auto admin = ConnectNats(AdminBus(nats.url()));
  REQUIRE(admin);
  auto as_a = ConnectNats(
      {.url = nats.url(), .user = a, .password = ca.password, .inbox_prefix = "_INBOX_" + a});
  REQUIRE(as_a);

  // A cannot publish on B's subjects: the forged heartbeat never arrives, A's own does.
  Inbox heard;
  auto hb_sub = (*admin)->Subscribe("av.hb.>", "test", 1 << 20, heard.Handler());
  REQUIRE(hb_sub);
  REQUIRE(WaitUntil(
      [&] {
        (*as_a)->Publish("av.hb." + b, "forged");
        (*as_a)->Publish("av.hb." + a, "marker");
        return heard.Has("av.hb." + a + " marker");
      },
      10s));
  CHECK_FALSE(heard.Has("av.hb." + b + " forged"));

  // A cannot read B's commands: what goes to B before A's own command never reaches A.
  Inbox got;
  auto spy = (*as_a)->Subscribe("av.cmd." + b, "test", 1 << 20, got.Handler());
  auto own = (*as_a)->Subscribe("av.cmd." + a, "test", 1 << 20, got.Handler());
  REQUIRE(WaitUntil(
      [&] {
        (*admin)->Publish("av.cmd." + b, "for-b");
        (*admin)->Publish("av.cmd." + a, "for-a");
        return got.Has("av.cmd." + a + " for-a");
      },
      10s));
  CHECK_FALSE(got.Has("av.cmd." + b + " for-b"));

  // A cannot register as B: not on B's subject (no permission), nor under B's name on its own.
  v1::RegisterRequest as_b;
  as_b.set_name("local-2");
  as_b.set_machine_id(b);
  CHECK_FALSE((*as_a)->Request("av.register." + b, as_b.SerializeAsString(), 1s));
  as_b.set_machine_id(a);
  auto refused = (*as_a)->Request("av.register." + a, as_b.SerializeAsString(), 5s);
  REQUIRE(refused);
  v1::RegisterReply reply;
  REQUIRE(reply.ParseFromString(*refused));
  CHECK(reply.error().find("cannot register under the name local-2") != std::string::npos);
  CHECK(controller.MachineState(b) == "ready");

  // A terminated machine's user is gone from the bus.
  REQUIRE(controller.Call("DELETE", "/v1/machines/" + b));
  REQUIRE(WaitUntil([&] { return controller.MachineState(b) == "terminated"; }, 20s));
  REQUIRE(WaitUntil([&] { return !CheckNatsLogin(nats.url(), b, cb.password, 2s); }, 10s));
  CHECK(CheckNatsLogin(nats.url(), a, ca.password, 2s));
}
