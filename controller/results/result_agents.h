// What the controller asks of agents about repository tasks' results (the seam ResultKeeper
// talks through; controller/agents/result_agents.h sends the commands over the bus).
// Owner-thread only; every answer comes back on the owner thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct ResultPiece {
  std::string data;
  uint64_t total = 0;  // the whole file's size
};

struct PushOrder {
  std::string task_id;
  std::string url;
  std::string branch;
  std::string credential;  // may be empty
};

class ResultAgents {
 public:
  template <class T>
  using Done = std::function<void(Result<T>)>;
  virtual ~ResultAgents() = default;
  // Up to 1 MiB of the task's "diff" or "bundle" from `offset`.
  virtual void Fetch(const std::string& machine_id, const std::string& task_id,
                     const std::string& what, uint64_t offset, Done<ResultPiece> done) = 0;
  // Pushes the task's result branch from the machine that holds it (or holds its bundle, Put).
  virtual void Push(const std::string& machine_id, const PushOrder& order, Done<void> done) = 0;
  // Gives a machine a piece of the task's bundle (at `offset` of `total` bytes).
  virtual void Put(const std::string& machine_id, const std::string& task_id, uint64_t offset,
                   std::string data, uint64_t total, Done<void> done) = 0;
};

}  // namespace autovibe
