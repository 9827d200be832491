#include "controller/agents/lease_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/budget.pb.h"
#include "common/bus/subjects.h"
#include "common/wire/amounts.h"

namespace autovibe {
namespace {

constexpr size_t kMaxLeaseMessage = size_t{16} * 1024;

// Calls in flight a request may list (the agent lists at most 200), and the length of an id.
constexpr int kMaxHeld = 256;
constexpr size_t kMaxReservationId = 64;

LeaseRequest RequestFromProto(const v1::LeaseRequest& p) {
  std::vector<Reservation> held;
  for (const v1::Reservation& r : p.held()) {
    if (held.size() == kMaxHeld) break;
    if (r.id().empty() || r.id().size() > kMaxReservationId) continue;
    held.push_back({r.id(), FromProto(r.amounts())});
  }
  return {.machine_id = p.machine_id(),
          .lease_id = p.lease_id(),
          .task_id = p.task_id(),
          .attempt = p.attempt(),
          .project = p.project(),
          .need_total = FromProto(p.need_total()),
          .want_total = FromProto(p.want_total()),
          .close = p.close(),
          .consumed = FromProto(p.consumed()),
          .held = std::move(held)};
}

v1::LeaseReply ReplyToProto(const LeaseReply& r) {
  v1::LeaseReply p;
  p.set_lease_id(r.lease_id);
  p.set_ok(r.ok);
  *p.mutable_granted_total() = ToProto(r.granted_total);
  p.set_ttl_ms(r.ttl_ms);
  p.set_denied_resource(r.denied_resource);
  p.set_message(r.message);
  p.set_on_exhaust(r.on_exhaust);
  p.set_error(r.error);
  p.set_exhausted(r.exhausted);
  return p;
}

}  // namespace

Result<LeaseRequest> DecodeLeaseRequest(Bus& bus, const BusMessage& m,
                                        std::string_view subject_prefix) {
  auto req = DecodeOrReject<v1::LeaseRequest>(bus, m, "lease");
  if (!req) return MakeError(ErrorCode::kBadRequest, "not a valid LeaseRequest message");
  // NATS permissions let an agent publish only on its own subjects: the subject, not the
  // payload, says which machine is asking.
  const std::string expected = Subjects(subject_prefix).Lease(req->machine_id());
  if (req->machine_id().empty() || m.subject != expected) {
    bus.Stats().Reject("lease", "subject_mismatch", m.subject, m.data.size());
    return MakeError(ErrorCode::kBadRequest, "machine_id \"" + req->machine_id().substr(0, 80) +
                                                 "\" does not match the subject " + m.subject);
  }
  return RequestFromProto(*req);
}

Result<void> LeaseService::Start() {
  auto sub = deps_.bus->Subscribe(
      Subjects(deps_.subject_prefix).AnyLease(), "lease", kMaxLeaseMessage, [this](BusMessage m) {
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
  // Answers go to inboxes only, with bus users on to the asking machine's own: a machine must
  // not make the controller write into another machine's subjects or inboxes (nothing is
  // granted to such a request).
  const std::string asker = Subjects(deps_.subject_prefix).MachineIn("lease", m.subject);
  if (!m.reply.empty() && !MayAnswer(m.reply, asker, deps_.own_inboxes_only)) {
    deps_.bus->Stats().Reject("lease", "bad_reply_subject", m.subject, m.data.size());
    return;
  }
  auto req = DecodeLeaseRequest(*deps_.bus, m, deps_.subject_prefix);
  if (!req) {
    Reply(m.reply, LeaseReply{.error = req.error().message});
    return;
  }
  if (auto refused = deps_.rules->CheckLease(req->machine_id, *req)) {
    deps_.refusals->Count("lease", req->machine_id, *refused);
    Reply(m.reply, LeaseReply{.lease_id = req->lease_id.substr(0, 128), .error = refused->detail});
    return;
  }
  deps_.batch->Open();
  LeaseReply reply = deps_.book->Grant(req->machine_id, *req);
  if (m.reply.empty()) return;
  deps_.batch->AfterCommit([this, to = m.reply, reply = std::move(reply)] { Reply(to, reply); });
}

void LeaseService::Reply(const std::string& to, const LeaseReply& reply) {
  if (to.empty()) return;  // nobody waits for the answer
  if (auto r = deps_.bus->Publish(to, ReplyToProto(reply).SerializeAsString()); !r) {
    spdlog::warn("controller cannot answer a lease request: {}", r.error().message);
  }
}

}  // namespace autovibe
