#include "controller/api/task_followers.h"

#include <boost/json.hpp>

#include "controller/api/task_api_json.h"

namespace autovibe {

namespace json = boost::json;

std::string TaskFollowers::Event(std::string_view name, const std::string& data) {
  // JSON from Boost.JSON has no raw newlines, so one data line carries it.
  std::string out = "event: ";
  out += name;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

void TaskFollowers::End(const TaskRecord& t, HttpBodyStream& stream) const {
  stream.Write(Event("end", json::serialize(TaskToJson(t, fleet_))));
  stream.Close();
}

void TaskFollowers::Follow(const TaskRecord& t, std::shared_ptr<HttpBodyStream> stream) {
  Follower f{std::move(stream), std::string(ToString(t.state))};
  f.stream->Write(Event("state", json::serialize(TaskStateToJson(t, fleet_))));
  if (IsFinal(t.state)) {
    End(t, *f.stream);
    return;
  }
  by_task_[t.id].push_back(std::move(f));
}

void TaskFollowers::TaskChanged(const TaskRecord& t) {
  auto it = by_task_.find(t.id);
  if (it == by_task_.end()) return;
  const std::string state(ToString(t.state));
  for (auto& f : it->second) {
    if (f.last_state == state) continue;
    f.last_state = state;
    f.stream->Write(Event("state", json::serialize(TaskStateToJson(t, fleet_))));
    if (IsFinal(t.state)) End(t, *f.stream);
  }
  if (IsFinal(t.state)) {
    by_task_.erase(it);
    return;
  }
  std::erase_if(it->second, [](const Follower& f) { return !f.stream->open(); });
  if (it->second.empty()) by_task_.erase(it);
}

void TaskFollowers::TaskLogged(const TaskRecord& t, const TaskLogChunk& c) {
  auto it = by_task_.find(t.id);
  if (it == by_task_.end()) return;
  const std::string event = Event("log", json::serialize(LogChunkToJson(c)));
  for (auto& f : it->second) f.stream->Write(event);
  std::erase_if(it->second, [](const Follower& f) { return !f.stream->open(); });
  if (it->second.empty()) by_task_.erase(it);
}

size_t TaskFollowers::count() const {
  size_t n = 0;
  for (const auto& [id, v] : by_task_) n += v.size();
  return n;
}

}  // namespace autovibe
