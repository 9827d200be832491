// What agents send the controller over the bus, through the same decode and handle functions
// the controller subscribes (controller/agents/): registrations (<p>.register and
// <p>.register.<m>), heartbeats (<p>.hb.<m>), events from the stream (<p>.evt.<m>: task
// started, log, finished, usage, checkpoints, stopping; each applied by the part the
// controller routes it to), lease requests (<p>.lease.<m>) and join requests
// (<p>.join.<token>), on the controller's parts over a real SQLite store
// (controller_fixture.h).
//
// Input: a byte for the subject, a byte for the sender (m-1, m-2, an unknown machine or, for a
// join, a live join token, or a name read from the input up to '\n'), a byte for the reply
// subject (the sender's own inbox, another, none), then the message.
#include "autovibe/v1/machine.pb.h"
#include "tests/fuzz/controller_fixture.h"

using namespace autovibe;

namespace {

// Registrations under new names add machines for good: past this many, a registration's name
// is folded onto a few, so the fleet (and each input's cost) stays bounded over millions of
// inputs. The name's checks still see what the input says below it.
constexpr size_t kMaxMachines = 64;

std::string Folded(const std::string& data) {
  v1::RegisterRequest r;
  if (!r.ParseFromString(data)) return data;
  r.set_name("fuzz-" + std::to_string(std::hash<std::string>()(r.name()) % 8));
  return r.SerializeAsString();
}

const std::string& LiveJoinTokenId(fuzz::ControllerFixture& f) {
  static std::string id = [&] {
    f.batch->Open();
    auto made = f.join_tokens->Create("", std::chrono::hours(24 * 7));
    if (!made) std::abort();
    f.Settle();
    return made->id;
  }();
  return id;
}

}  // namespace

AV_FUZZ_TARGET(bus_controller) {
  auto& f = fuzz::ControllerFixture::Get();
  fuzz::Input in(data, size);
  const size_t kind = in.Pick(6);
  std::string sender;
  switch (in.Pick(4)) {
    case 0:
      sender = "m-1";
      break;
    case 1:
      sender = "m-2";
      break;
    case 2:
      sender = kind == 5 ? LiveJoinTokenId(f) : "m-9";
      break;
    default:
      sender = std::string(in.Line());
      break;
  }
  std::string reply;
  switch (in.Pick(3)) {
    case 0:
      reply = "_INBOX_" + sender + ".r1";
      break;
    case 1:
      reply = "_INBOX.other.r1";
      break;
    default:
      break;
  }
  BusMessage m{"", reply, std::string(in.Rest())};
  switch (kind) {
    case 0:
    case 1:
      m.subject = kind == 0 ? "av.register" : "av.register." + sender;
      if (f.fleet->List().size() >= kMaxMachines) m.data = Folded(m.data);
      f.registration->OnRegister(m);
      break;
    case 2:
      m.subject = "av.hb." + sender;
      f.registration->OnHeartbeat(m);
      break;
    case 3:
      m.subject = "av.evt." + sender;
      f.intake->Handle(m, [] {});
      break;
    case 4:
      m.subject = "av.lease." + sender;
      f.leases->Handle(m);
      break;
    default:
      m.subject = "av.join." + sender;
      f.joins->Handle(m);
      break;
  }
  f.Settle();
  // Now and then, what the controller's tick does: lost machines, expired leases and tokens.
  static uint64_t runs = 0;
  if (++runs % 1024 == 0) {
    f.batch->Open();
    f.registration->CheckLiveness();
    (void)f.tasks->Tick();
    f.budgets->Tick();
    f.join_tokens->Tick();
    f.intake->ForgetOldEvents(f.clock.NowMs());
    f.Settle();
  }
}
