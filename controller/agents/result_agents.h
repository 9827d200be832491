// ResultAgents over the bus: FetchResult and PushResult commands on <prefix>.cmd.<m>.
// Owner-thread only; replies are posted back to the owner thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

#include "common/bus/bus.h"
#include "common/core/duration.h"
#include "controller/results/result_agents.h"

namespace autovibe {
namespace v1 {
class Command;
class CommandReply;
}  // namespace v1

struct ResultAgentsDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  std::string subject_prefix = "av";
};

class NatsResultAgents final : public ResultAgents {
 public:
  explicit NatsResultAgents(ResultAgentsDeps deps) : d_(std::move(deps)) {}

  // ResultAgents
  void Fetch(const std::string& machine_id, const std::string& task_id, const std::string& what,
             uint64_t offset, Done<ResultPiece> done) override;
  void Push(const std::string& machine_id, const PushOrder& order, Done<void> done) override;
  void Put(const std::string& machine_id, const std::string& task_id, uint64_t offset,
           std::string data, uint64_t total, Done<void> done) override;

 private:
  // Sends `cmd` to the machine; `done` gets, on the owner thread, the reply when it says ok,
  // else its error.
  void Ask(const std::string& machine_id, v1::Command cmd, Duration timeout,
           Done<v1::CommandReply> done);

  ResultAgentsDeps d_;
};

}  // namespace autovibe
