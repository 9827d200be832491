#include "tests/fakes/fake_proxmox.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <chrono>

#include "common/core/text.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;

HttpResponse Json(int status, json::value data) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json;charset=UTF-8";
  r.body = json::serialize(json::object{{"data", data}});
  return r;
}

HttpResponse Json(int status, const std::string& data) {
  return Json(status, json::value(json::string(data)));
}

HttpResponse Fail(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json;charset=UTF-8";
  r.body = json::serialize(json::object{{"data", nullptr}, {"message", message + "\n"}});
  return r;
}

std::map<std::string, std::string> ParseForm(const std::string& text) {
  std::map<std::string, std::string> out;
  const std::string ref = "?" + text;
  auto url = boost::urls::parse_uri_reference(ref);
  if (!url) return out;
  for (auto p : url->params()) out[std::string(p.key)] = std::string(p.value);  // decoded
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int ToInt(const std::string& s) {
  try {
    return std::stoi(s);
  } catch (...) {
    return -1;
  }
}

}  // namespace

FakeProxmox::FakeProxmox(std::string node, std::string token, int task_ms)
    : node_(std::move(node)), token_(std::move(token)), task_ms_(task_ms) {}

FakeProxmox::~FakeProxmox() = default;

Result<void> FakeProxmox::Start() {
  return server_.Start("127.0.0.1", 0, [this](const HttpRequest& r) { return Handle(r); });
}

void FakeProxmox::AddVm(int vmid, FakeVm vm) {
  std::lock_guard lock(mu_);
  vms_[vmid] = std::move(vm);
}

std::map<int, FakeVm> FakeProxmox::Vms() {
  std::lock_guard lock(mu_);
  return vms_;
}

int FakeProxmox::unauthorized() const {
  std::lock_guard lock(mu_);
  return unauthorized_;
}

void FakeProxmox::FailNextTask(std::string exitstatus) {
  std::lock_guard lock(mu_);
  fail_next_ = std::move(exitstatus);
}

std::string FakeProxmox::NewTask(const std::string& type, int vmid, std::string exitstatus) {
  if (!fail_next_.empty()) exitstatus = std::exchange(fail_next_, "");
  char upid[160];
  std::snprintf(upid, sizeof upid, "UPID:%s:%08X:%08X:%08X:%s:%d:root@pam!autovibe:", node_.c_str(),
                4000 + next_task_, next_task_ * 7, next_task_, type.c_str(), vmid);
  ++next_task_;
  tasks_[upid] = TaskState{NowMs() + task_ms_, std::move(exitstatus)};
  return upid;
}

HttpResponse FakeProxmox::Handle(const HttpRequest& req) {
  std::lock_guard lock(mu_);
  if (HeaderValue(req, "authorization") != "PVEAPIToken=" + token_) {
    ++unauthorized_;
    HttpResponse r;
    r.status = 401;
    r.body = "";
    return r;
  }
  // Parameters come form-encoded in the body (POST, PUT) or in the query (GET, DELETE).
  std::map<std::string, std::string> form = req.query;
  for (auto& [k, v] : ParseForm(req.body)) form[k] = v;
  return Route(req, form);
}

HttpResponse FakeProxmox::Route(const HttpRequest& req,
                                const std::map<std::string, std::string>& form) {
  auto seg = SplitPath(req.path);
  if (seg.size() < 2 || seg[0] != "api2" || seg[1] != "json") return Fail(404, "no such path");
  seg.erase(seg.begin(), seg.begin() + 2);
  if (seg.size() == 2 && seg[0] == "cluster" && seg[1] == "nextid" && req.method == "GET") {
    int id = 100;
    while (vms_.count(id)) ++id;
    return Json(200, std::to_string(id));
  }
  if (seg.size() < 2 || seg[0] != "nodes" || seg[1] != node_) {
    return Fail(500, "hostname lookup '" + (seg.size() > 1 ? seg[1] : "") + "' failed");
  }
  if (seg.size() == 5 && seg[2] == "tasks" && seg[4] == "status" && req.method == "GET") {
    auto it = tasks_.find(seg[3]);
    if (it == tasks_.end()) return Fail(500, "no such task");
    if (NowMs() < it->second.done_at_ms) {
      return Json(200, json::object{{"upid", seg[3]}, {"status", "running"}});
    }
    return Json(
        200, json::object{
                 {"upid", seg[3]}, {"status", "stopped"}, {"exitstatus", it->second.exitstatus}});
  }
  if (seg.size() == 3 && seg[2] == "qemu" && req.method == "GET") {
    json::array list;
    for (const auto& [id, vm] : vms_) {
      list.push_back(json::object{{"vmid", id},
                                  {"name", vm.name},
                                  {"status", vm.status},
                                  {"template", vm.is_template ? 1 : 0}});
    }
    return Json(200, json::value(std::move(list)));
  }
  if (seg.size() < 4 || seg[2] != "qemu") return Fail(501, "Method not implemented");
  const int vmid = ToInt(seg[3]);
  auto vm = vms_.find(vmid);
  if (vm == vms_.end()) {
    return Fail(500, "Configuration file 'nodes/" + node_ + "/qemu-server/" + seg[3] +
                         ".conf' does not exist");
  }
  const std::string rest = seg.size() > 4 ? seg[4] : "";
  if (seg.size() == 4 && req.method == "DELETE") {
    if (vm->second.status == "running")
      return Fail(500, "VM " + seg[3] + " is running - destroy failed");
    std::string task = NewTask("qmdestroy", vmid);
    if (tasks_[task].exitstatus == "OK") vms_.erase(vm);
    return Json(200, task);
  }
  if (rest == "clone" && req.method == "POST") {
    auto get = [&](const char* k) {
      auto it = form.find(k);
      return it == form.end() ? std::string() : it->second;
    };
    const int newid = ToInt(get("newid"));
    if (newid < 100 || vms_.count(newid)) return Fail(400, "parameter verification failed: newid");
    const bool full = get("full") == "1";
    const std::string snap = get("snapname");
    if (!full && !vm->second.is_template) {
      return Fail(500, "Linked clone feature is not supported for drive 'scsi0'");
    }
    if (!snap.empty() && !vm->second.snapshots.count(snap)) {
      return Fail(500, "snapshot '" + snap + "' does not exist");
    }
    FakeVm clone;
    clone.name = get("name");
    clone.cloned_from = seg[3] + (snap.empty() ? "" : "@" + snap);
    clone.full_clone = full;
    std::string task = NewTask("qmclone", vmid);
    if (tasks_[task].exitstatus == "OK") vms_[newid] = clone;
    return Json(200, task);
  }
  if (rest == "config" && (req.method == "POST" || req.method == "PUT")) {
    for (const auto& [k, v] : form) vm->second.config[k] = v;
    return req.method == "POST" ? Json(200, NewTask("qmconfig", vmid))
                                : Json(200, json::value(nullptr));
  }
  if (rest == "status" && seg.size() == 6) {
    if (seg[5] == "current" && req.method == "GET") {
      return Json(
          200,
          json::object{{"vmid", vmid}, {"status", vm->second.status}, {"name", vm->second.name}});
    }
    if ((seg[5] == "start" || seg[5] == "stop") && req.method == "POST") {
      if (vm->second.is_template) return Fail(500, "you can't start a vm if it's a template");
      std::string task = NewTask(seg[5] == "start" ? "qmstart" : "qmstop", vmid);
      if (tasks_[task].exitstatus == "OK")
        vm->second.status = seg[5] == "start" ? "running" : "stopped";
      return Json(200, task);
    }
  }
  if (rest == "snapshot" && seg.size() == 5 && req.method == "POST") {
    auto it = form.find("snapname");
    if (it == form.end() || it->second.empty() ||
        !std::isalpha(static_cast<unsigned char>(it->second[0]))) {
      return Fail(400, "parameter verification failed: snapname");
    }
    if (vm->second.snapshots.count(it->second))
      return Fail(500, "snapshot name '" + it->second + "' already used");
    std::string task = NewTask("qmsnapshot", vmid);
    if (tasks_[task].exitstatus == "OK") vm->second.snapshots.insert(it->second);
    return Json(200, task);
  }
  if (rest == "snapshot" && seg.size() >= 6) {
    const std::string& snap = seg[5];
    if (!vm->second.snapshots.count(snap))
      return Fail(500, "snapshot '" + snap + "' does not exist");
    if (seg.size() == 6 && req.method == "DELETE") {
      std::string task = NewTask("qmdelsnapshot", vmid);
      if (tasks_[task].exitstatus == "OK") vm->second.snapshots.erase(snap);
      return Json(200, task);
    }
    if (seg.size() == 7 && seg[6] == "rollback" && req.method == "POST") {
      std::string task = NewTask("qmrollback", vmid);
      if (tasks_[task].exitstatus == "OK") {
        // A snapshot taken without its RAM (vmstate) leaves the VM stopped after a rollback.
        vm->second.status = "stopped";
        vm->second.rolled_back_to = snap;
      }
      return Json(200, task);
    }
  }
  return Fail(501, "Method '" + req.method + " /" + rest + "' not implemented");
}

}  // namespace autovibe::testing
