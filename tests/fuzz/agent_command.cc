// What the controller sends an agent on <p>.cmd.<m>, through the agent's command handling
// (worker-agent/agent.cc, OnCommand): the message decoded as the agent decodes it
// (DecodeOrReject<v1::Command>), then handed to the part that answers it, as OnCommand routes
// it: checkpoint commands to the checkpoint keeper over a real checkpoint store (take, restore,
// diff, delete, list, missing, fetch, put and import objects, verify, pin, list), repository
// results to the repo keeper (fetch a piece, put a piece), cancel and pause to the task
// manager. The agent's own commands (run a task: it would run the input as a program;
// register again, drain, shut down, push a result) are left out.
//
// The data dir holds a workspace for task t-1 and a manual checkpoint of it, whose id and root
// the fuzzer cannot know (they are made at random): in the input, kSomeCheckpoint stands for
// that id and kSomeHash for its root hash (each replaced by a string of the same length, so
// the message's lengths stay right).
//
// Input: the command's bytes.
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "autovibe/v1/command.pb.h"
#include "common/bus/bus.h"
#include "tests/fuzz/fuzz_target.h"
#include "worker-agent/checkpoint_keeper.h"
#include "worker-agent/repo_keeper.h"
#include "worker-agent/runner/event_outbox.h"
#include "worker-agent/runner/task_manager.h"

using namespace autovibe;

namespace {

constexpr std::string_view kSomeCheckpoint = "cp-0123456789ab";
constexpr std::string_view kSomeHash = "0123456789abcdef0123456789abcdef";

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// Takes every event at once, from any thread; keeps nothing but its counters.
class AckingBus final : public Bus {
 public:
  Result<void> Publish(std::string_view, std::string_view) override { return {}; }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string, std::string, size_t,
                                                  Handler) override {
    return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
  }
  Result<std::string> Request(std::string_view, std::string_view, Duration) override {
    return MakeError(ErrorCode::kNoResponders, "nobody answers here");
  }
  void RequestAsync(std::string_view s, std::string_view d, Duration t,
                    ReplyHandler done) override {
    done(Request(s, d, t));
  }
  Result<void> EnsureStream(const StreamConfig&) override { return {}; }
  Result<PublishAck> StreamPublish(std::string_view, std::string_view, std::string_view,
                                   Duration) override {
    return PublishAck{};
  }
  Result<std::unique_ptr<Subscription>> ConsumeStream(std::string, std::string, std::string, size_t,
                                                      StreamHandler) override {
    return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
  }
  bool Connected() const override { return true; }
  BusStats& Stats() override { return stats_; }

 private:
  BusStats stats_;
};

struct Agent {
  const std::string data_dir = fuzz::ScratchDir() + "/agent";
  boost::asio::io_context ioc{1};
  AckingBus bus;
  EventOutbox outbox{bus, EventOutboxOptions{}};
  std::unique_ptr<TaskManager> tasks;
  std::unique_ptr<RepoKeeper> repos;
  std::unique_ptr<CheckpointKeeper> checkpoints;

  Agent() {
    std::filesystem::create_directories(data_dir + "/workspaces/t-1/src");
    std::ofstream(data_dir + "/workspaces/t-1/src/main.c") << "int main() { return 0; }\n";
    outbox.SetMachineId("m-1");
    TaskManagerOptions to;
    to.data_dir = data_dir;
    tasks = std::make_unique<TaskManager>(ioc, outbox, std::move(to));
    repos = std::make_unique<RepoKeeper>(ioc, data_dir);
    auto opened =
        CheckpointKeeper::Open(ioc, outbox, *tasks, CheckpointKeeperOptions{.data_dir = data_dir});
    if (!opened) std::abort();
    checkpoints = std::move(*opened);
    checkpoints->SetMachineId("m-1");
    TakeOwn();
  }

  // A checkpoint of t-1's workspace, which kSomeCheckpoint names from then on.
  void TakeOwn() {
    v1::Command take;
    take.set_command_id("c-0");
    take.mutable_checkpoint_now()->set_task_id("t-1");
    own_id.clear();
    if (Run(take.SerializeAsString()) != Answered::kYes ||
        own_id.size() != kSomeCheckpoint.size() || own_root.size() != kSomeHash.size()) {
      std::abort();
    }
  }

  std::string own_id, own_root;  // the checkpoint made at start

  // Deletes checkpoints (other than own_id) until at most `keep` are left, as the controller
  // would: ListCheckpoints, then DeleteCheckpoint.
  void Trim(size_t keep) {
    v1::Command list;
    list.set_command_id("c-list");
    list.mutable_list_checkpoints();
    std::vector<std::string> ids;
    bool listed = false;
    checkpoints->Execute(list, [&](const v1::CommandReply& reply) {
      for (const auto& m : reply.checkpoints()) ids.push_back(m.id());
      listed = true;
    });
    RunUntil([&] { return listed; });
    for (size_t i = 0; i + keep < ids.size(); ++i) {
      if (ids[i] == own_id) continue;
      v1::Command del;
      del.set_command_id("c-trim");
      del.mutable_delete_checkpoint()->set_checkpoint_id(ids[i]);
      (void)Run(del.SerializeAsString());
    }
  }

  // Runs the io_context until `done`; aborts after 10 s (a hang).
  void RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_for(std::chrono::milliseconds(5));
    }
    if (!done()) {
      std::fprintf(stderr, "agent_command: no answer within 10 s\n");
      std::abort();
    }
  }

  enum class Answered { kYes, kNo, kNotRouted };

  // Handles one message as the agent does and runs its io_context until the answer.
  Answered Run(std::string data) {
    if (!own_id.empty()) {
      ReplaceAll(data, kSomeCheckpoint, own_id);
      ReplaceAll(data, kSomeHash, own_root);
    }
    auto cmd = DecodeOrReject<v1::Command>(bus, {"av.cmd.m-1", "_INBOX_m-1.r", data}, "command");
    if (!cmd) return Answered::kNo;
    bool answered = false;
    bool own_removed = false;
    auto send = [&](const v1::CommandReply& reply) {
      fuzz::Show(reply.ok() ? "ok" : reply.error_code() + ": " + reply.error());
      if (own_id.empty() && reply.checkpoints_size() == 1) {
        own_id = reply.checkpoints(0).id();
        own_root = reply.checkpoints(0).root();
      }
      for (const auto& id : reply.removed()) own_removed |= id == own_id;
      answered = true;
    };
    if (CheckpointKeeper::Handles(*cmd)) {
      checkpoints->Execute(*cmd, send);
    } else if (cmd->has_fetch_result()) {
      send(repos->Fetch(*cmd));
    } else if (cmd->has_put_result()) {
      send(repos->Put(*cmd));
    } else if (cmd->has_cancel_task()) {
      tasks->Cancel(cmd->cancel_task().task_id(), cmd->cancel_task().reason());
      answered = true;
    } else if (cmd->has_pause_task()) {
      tasks->Pause(cmd->pause_task().task_id(), cmd->pause_task().reason());
      answered = true;
    } else {
      return Answered::kNotRouted;
    }
    RunUntil([&] { return answered; });
    if (own_removed) TakeOwn();
    return Answered::kYes;
  }
};

}  // namespace

AV_FUZZ_TARGET(agent_command) {
  static Agent* agent = new Agent();  // never destroyed: its disk thread may be at work
  (void)agent->Run(std::string(reinterpret_cast<const char*>(data), size));
  // Inputs take checkpoints and none goes by itself (manual ones are kept): now and then the
  // store is brought back to a few, with the agent's own commands, so each input's cost stays
  // what it was at the start.
  static uint64_t runs = 0;
  if (++runs % 1024 == 0) agent->Trim(32);
}
