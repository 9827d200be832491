// A stand-in for the Proxmox VE API, for tests only: no Proxmox can run here. It follows the
// real API where autovibe uses it: /api2/json paths, the `Authorization: PVEAPIToken=...`
// header (401 without the right one), form-encoded parameters, {"data": ...} answers, and
// asynchronous tasks whose UPIDs are polled at /nodes/{node}/tasks/{upid}/status until
// "stopped" with an exitstatus of "OK" or the error. VMs, templates, clones (linked only from
// templates; from a snapshot only full), cloud-init cicustom, start, stop, snapshots,
// rollback and delete keep state in memory; nothing boots.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

struct FakeVm {
  std::string name;
  bool is_template = false;
  std::string status = "stopped";             // "running"
  std::map<std::string, std::string> config;  // cicustom, ...
  std::set<std::string> snapshots;
  std::string cloned_from;  // "vmid" or "vmid@snapshot"
  bool full_clone = false;
  std::string rolled_back_to;  // the last snapshot rolled back to
};

class FakeProxmox {
 public:
  // `token`: the whole "user@realm!id=secret" the header must carry. Tasks take `task_ms`.
  FakeProxmox(std::string node, std::string token, int task_ms = 30);
  ~FakeProxmox();

  Result<void> Start();
  std::string url() const { return server_.url(); }

  // Adds a VM (or template) by hand.
  void AddVm(int vmid, FakeVm vm);
  // A copy of the VMs now, by id.
  std::map<int, FakeVm> Vms();
  // Calls answered 401.
  int unauthorized() const;
  // The next task fails with this exitstatus.
  void FailNextTask(std::string exitstatus);

 private:
  struct TaskState {
    int64_t done_at_ms = 0;
    std::string exitstatus;
  };
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Route(const HttpRequest& req, const std::map<std::string, std::string>& form);
  std::string NewTask(const std::string& type, int vmid, std::string exitstatus = "OK");

  std::string node_;
  std::string token_;
  int task_ms_;
  mutable std::mutex mu_;
  std::map<int, FakeVm> vms_;
  std::map<std::string, TaskState> tasks_;
  int next_task_ = 1;
  int unauthorized_ = 0;
  std::string fail_next_;
  FakeServerThread server_;
};

}  // namespace autovibe::testing
