// MachineAgents over the bus: drain and shutdown as commands on <p>.cmd.<m>, disk syncs as
// requests whose answers are posted back to the owner thread. Owner-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "common/bus/bus.h"
#include "controller/machines/machine_agents.h"

namespace autovibe {

class NatsMachineAgents final : public MachineAgents {
 public:
  NatsMachineAgents(boost::asio::io_context& ioc, Bus& bus, std::string subject_prefix)
      : ioc_(ioc), bus_(bus), prefix_(std::move(subject_prefix)) {}
  ~NatsMachineAgents() override { *alive_ = false; }

  // MachineAgents
  void Drain(const std::string& machine_id) override;
  void Shutdown(const std::string& machine_id) override;
  void SyncDisks(const std::string& machine_id, Duration timeout,
                 std::function<void(Result<void>)> done) override;

 private:
  void Send(const std::string& machine_id, bool shutdown);

  boost::asio::io_context& ioc_;
  Bus& bus_;
  std::string prefix_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace autovibe
