#include "controller/agents/lease_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace autovibe {
namespace {

constexpr size_t kMaxLeaseMessage = size_t{16} * 1024;

}  // namespace

Result<v1::LeaseRequest> DecodeLeaseRequest(Bus& bus, const BusMessage& m,
                                            std::string_view subject_prefix) {
  auto req = DecodeOrReject<v1::LeaseRequest>(bus, m, "lease");
  if (!req) return MakeError("bad_request", "not a valid LeaseRequest message");
  // NATS permissions let an agent publish only on its own subjects: the subject, not the
  // payload, says which machine is asking.
  const std::string expected = std::string(subject_prefix) + ".lease." + req->machine_id();
  if (req->machine_id().empty() || m.subject != expected) {
    bus.Stats().Reject("lease", "subject_mismatch", m.subject, m.data.size());
    return MakeError("bad_request", "machine_id \"" + req->machine_id().substr(0, 80) +
                                        "\" does not match the subject " + m.subject);
  }
  return std::move(*req);
}

Result<void> LeaseService::Start() {
  auto sub = deps_.bus->Subscribe(
      deps_.subject_prefix + ".lease.*", "lease", kMaxLeaseMessage, [this](BusMessage m) {
        boost::asio::post(*deps_.ioc, [this, m = std::move(m)] { Handle(m); });
      });
  if (!sub) return sub.error();
  sub_ = std::move(*sub);
  return {};
}

void LeaseService::Stop() {
  stopped_ = true;
  sub_.reset();
}

void LeaseService::Handle(const BusMessage& m) {
  if (stopped_) return;
  // Answers go to inboxes only: a machine must not make the controller write into another
  // machine's subjects (nothing is granted to such a request).
  if (!m.reply.empty() && !m.reply.starts_with("_INBOX")) {
    deps_.bus->Stats().Reject("lease", "bad_reply_subject", m.subject, m.data.size());
    return;
  }
  auto req = DecodeLeaseRequest(*deps_.bus, m, deps_.subject_prefix);
  if (!req) {
    v1::LeaseReply reply;
    reply.set_error(req.error().message);
    Reply(m.reply, reply);
    return;
  }
  deps_.batch->Open();
  v1::LeaseReply reply = deps_.book->Grant(req->machine_id(), *req);
  if (m.reply.empty()) return;
  deps_.batch->AfterCommit([this, to = m.reply, reply = std::move(reply)] { Reply(to, reply); });
}

void LeaseService::Reply(const std::string& to, const v1::LeaseReply& reply) {
  if (to.empty()) return;  // nobody waits for the answer
  if (auto r = deps_.bus->Publish(to, reply.SerializeAsString()); !r) {
    spdlog::warn("controller cannot answer a lease request: {}", r.error().message);
  }
}

}  // namespace autovibe
