#include "controller/agents/result_agents.h"

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "controller/agents/checkpoint_transfer.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr auto kPieceTimeout = std::chrono::seconds(30);
constexpr auto kPushTimeout = std::chrono::seconds(600);
constexpr uint32_t kPiece = 1 << 20;

}  // namespace

void NatsResultAgents::Ask(const std::string& machine_id, v1::Command cmd, Duration timeout,
                           Done<v1::CommandReply> done) {
  cmd.set_command_id(NewId("c"));
  d_.bus->RequestAsync(Subjects(d_.subject_prefix).Command(machine_id), cmd.SerializeAsString(),
                       timeout,
                       [ioc = d_.ioc, machine_id, done = std::move(done)](Result<std::string> raw) {
                         asio::post(*ioc, [machine_id, done, raw = std::move(raw)] {
                           done(ReadCommandReply(machine_id, raw));
                         });
                       });
}

void NatsResultAgents::Fetch(const std::string& machine_id, const std::string& task_id,
                             const std::string& what, uint64_t offset, Done<ResultPiece> done) {
  v1::Command cmd;
  auto* f = cmd.mutable_fetch_result();
  f->set_task_id(task_id);
  f->set_what(what);
  f->set_offset(offset);
  f->set_max_bytes(kPiece);
  Ask(machine_id, std::move(cmd), kPieceTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        if (!reply) return done(reply.error());
        done(ResultPiece{std::move(*reply->mutable_data()), reply->total()});
      });
}

void NatsResultAgents::Push(const std::string& machine_id, const PushOrder& order,
                            Done<void> done) {
  v1::Command cmd;
  auto* p = cmd.mutable_push_result();
  p->set_task_id(order.task_id);
  p->mutable_repo()->set_url(order.url);
  p->mutable_repo()->set_branch(order.branch);
  p->mutable_repo()->set_credential(order.credential);
  Ask(machine_id, std::move(cmd), kPushTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        done(reply ? Result<void>{} : Result<void>(reply.error()));
      });
}

void NatsResultAgents::Put(const std::string& machine_id, const std::string& task_id,
                           uint64_t offset, std::string data, uint64_t total, Done<void> done) {
  v1::Command cmd;
  auto* p = cmd.mutable_put_result();
  p->set_task_id(task_id);
  p->set_offset(offset);
  p->set_data(std::move(data));
  p->set_total(total);
  Ask(machine_id, std::move(cmd), kPieceTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        done(reply ? Result<void>{} : Result<void>(reply.error()));
      });
}

}  // namespace autovibe
