// The checkpoint endpoints: GET /v1/checkpoints, POST /v1/machines/{id}/checkpoints,
// GET /v1/checkpoints/{id}, GET /v1/checkpoints/{id}/diff?to=ID,
// POST /v1/checkpoints/{id}/restore, POST /v1/checkpoints/{id}/branch,
// POST /v1/checkpoints/{id}/verify, GET /v1/checkpoints/{id}/archive (checkpoint_archives.h),
// DELETE /v1/checkpoints/{id}. What needs an agent answers later (HttpResponse::later).
// Owner-thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/api/checkpoint_archives.h"
#include "controller/api/project_scope.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"
#include "controller/machines/machine_manager.h"

namespace autovibe {

struct CheckpointsApiDeps {
  CheckpointService* checkpoints = nullptr;
  const Fleet* fleet = nullptr;
  MachineManager* machines = nullptr;      // may be null: no machine checkpoints
  const TaskFacts* tasks = nullptr;        // where tasks run, which are unfinished
  CheckpointArchives* archives = nullptr;  // may be null: no archives
};

class CheckpointsApi {
 public:
  explicit CheckpointsApi(CheckpointsApiDeps deps) : deps_(deps) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  // The list holds only what `scope` sees; a diff's other checkpoint and a restore's task must
  // be ones it sees (Api has checked the request's own checkpoint).
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route, const ProjectScope& scope);

 private:
  HttpResponse List(const HttpRequest& req, const ProjectScope& scope);
  HttpResponse Create(const HttpRequest& req, std::string_view machine);
  HttpResponse Show(std::string_view id);
  HttpResponse Diff(const HttpRequest& req, std::string_view id, const ProjectScope& scope);
  HttpResponse Restore(const HttpRequest& req, std::string_view id, const ProjectScope& scope);
  HttpResponse RevertMachine(const HttpRequest& req, std::string_view id);
  HttpResponse Branch(const HttpRequest& req, std::string_view id);
  HttpResponse Delete(std::string_view id);
  HttpResponse Verify(std::string_view id);
  // Whole-machine checkpoints (kind "machine"), kept by the machine manager.
  HttpResponse CreateMachineCheckpoint(const MachineRecord& m);
  const MachineCheckpointRecord* MachineCheckpoint(std::string_view id) const;
  // A machine by id or name; null when none.
  const MachineRecord* Machine(std::string_view id_or_name) const;

  CheckpointsApiDeps deps_;
};

}  // namespace autovibe
