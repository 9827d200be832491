// Live followers of task logs (GET /v1/tasks/{id}/logs?follow=1): Server-Sent Events.
// Owner-thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/http/http.h"
#include "controller/fleet/fleet.h"
#include "controller/model/task.h"

namespace autovibe {

class TaskFollowers {
 public:
  explicit TaskFollowers(const Fleet* fleet) : fleet_(fleet) {}

  // Starts following `t` on `stream`: a state event, then live logs and states until the task
  // ends. The backlog (logs stored so far) must already have been written by the caller.
  void Follow(const TaskRecord& t, std::shared_ptr<HttpBodyStream> stream);

  // From the task book.
  void TaskChanged(const TaskRecord& t);
  void TaskLogged(const TaskRecord& t, const TaskLogChunk& c);

  size_t count() const;

  // One SSE event: "event: NAME\ndata: JSON\n\n".
  static std::string Event(std::string_view name, const std::string& json);
  // The closing event and close.
  void End(const TaskRecord& t, HttpBodyStream& stream) const;

 private:
  struct Follower {
    std::shared_ptr<HttpBodyStream> stream;
    std::string last_state;  // as last sent, so unchanged states are not repeated
  };

  const Fleet* fleet_;
  std::unordered_map<std::string, std::vector<Follower>> by_task_;
};

}  // namespace autovibe
