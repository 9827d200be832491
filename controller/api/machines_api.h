// /v1/machines and /v1/pools: the fleet, and the machines the controller makes and retires.
// Owner-thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/fleet/fleet.h"
#include "controller/machines/machine_manager.h"

namespace autovibe {

struct MachinesApiDeps {
  const Fleet* fleet = nullptr;
  MachineManager* machines = nullptr;  // may be null: no provisioning
  // Commits the open write batch before answering.
  std::function<Result<void>()> commit;
};

class MachinesApi {
 public:
  explicit MachinesApi(MachinesApiDeps deps) : d_(std::move(deps)) {}

  static bool Handles(const std::vector<std::string_view>& seg);
  HttpResponse Route(const HttpRequest& req, const std::vector<std::string_view>& seg,
                     std::string& route);

 private:
  HttpResponse Spawn(const HttpRequest& req);
  HttpResponse Pools() const;
  const MachineRecord* Find(std::string_view id_or_name) const;

  MachinesApiDeps d_;
};

}  // namespace autovibe
