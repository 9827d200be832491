#include "controller/agents/join_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/machine.pb.h"
#include "common/bus/subjects.h"

namespace autovibe {
namespace {

constexpr size_t kMaxJoinMessage = 4 * 1024;

}  // namespace

Result<void> JoinService::Start() {
  auto sub = d_.bus->Subscribe(
      Subjects(d_.subject_prefix).AnyJoin(), "join", kMaxJoinMessage, [this](BusMessage m) {
        boost::asio::post(*d_.ioc, [this, m = std::move(m)] { Handle(m); });
      });
  if (!sub) return sub.error();
  sub_ = std::move(*sub);
  return {};
}

void JoinService::Stop() {
  stopped_ = true;
  sub_.reset();
}

void JoinService::Handle(const BusMessage& m) {
  if (stopped_) return;
  const std::string token_id = Subjects(d_.subject_prefix).MachineIn("join", m.subject);
  // The answer carries a bus password: it goes to the token's own inboxes, which only the
  // holder of the token can read, and nowhere else.
  if (!IsInboxOf(m.reply, token_id)) {
    d_.bus->Stats().Reject("join", "bad_reply_subject", m.subject, m.data.size());
    return;
  }
  v1::JoinReply reply;
  if (!DecodeOrReject<v1::JoinRequest>(*d_.bus, m, "join")) {
    reply.set_error("join request is not a valid JoinRequest message");
  } else {
    d_.batch->Open();
    auto grant = d_.tokens->Claim(token_id);
    if (!grant) {
      d_.bus->Stats().Reject("join", "refused", m.subject, m.data.size());
      spdlog::warn("join refused: {}", grant.error().message);
      reply.set_error(grant.error().message);
    } else {
      reply.set_machine_id(grant->machine_id);
      reply.set_nats_user(grant->nats_user);
      reply.set_nats_password(grant->nats_password);
      for (const auto& [k, v] : grant->labels) (*reply.mutable_labels())[k] = v;
    }
  }
  d_.batch->AfterCommit([this, to = m.reply, data = reply.SerializeAsString()] {
    if (auto r = d_.bus->Publish(to, data); !r) {
      spdlog::warn("controller cannot answer a join request: {}", r.error().message);
    }
  });
}

}  // namespace autovibe
