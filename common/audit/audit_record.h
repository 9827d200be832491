// One record of the controller's audit log: who did what to which object, when, from where,
// with what result, chained to the record before it by hash. Shared by the controller, which
// writes and verifies the log, and the CLI, which verifies the records it fetched.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace autovibe {

struct AuditRecord {
  int64_t seq = 0;    // 1, 2, 3, ... with no gap; retention removes the oldest
  int64_t at_ms = 0;  // Unix milliseconds
  // A token's name ("admin"), or "controller:<rule>" for what the controller decided itself
  // ("controller:budget_exhausted").
  std::string actor;
  std::string action;       // "POST /v1/tasks/{id}/cancel", "machine.lost", "task.requeue"
  std::string object_kind;  // "task", "project", "machine", "checkpoint", ... ("" for none)
  std::string object_id;
  std::string project;         // "" when the object belongs to none
  std::string remote_address;  // the client's address for a request; "" for a decision
  int status = 0;              // a request's HTTP status; 0 for a decision
  std::string result = "ok";   // "ok" or "error"
  std::string error;           // what went wrong, when result is "error"
  std::string details = "{}";  // a JSON object as Boost.JSON writes it: safe fields only
  std::string prev_hash;       // the hash of the record before ("" before the first)
  std::string hash;            // AuditHash of this record
};

// The last record retention removed: the chain goes on from its hash. seq 0: none removed.
struct AuditAnchor {
  int64_t seq = 0;
  std::string hash;
  int64_t at_ms = 0;
};

// "controller:<rule>", the actor of a decision the controller took by itself.
std::string ControllerActor(std::string_view rule);

// A details object of string fields, {"pool":"local","why":"..."}, as Boost.JSON writes it.
std::string DetailsJson(std::initializer_list<std::pair<std::string_view, std::string_view>> f);

}  // namespace autovibe
