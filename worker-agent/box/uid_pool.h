// The task users of one agent: uid (and gid) base .. base + size - 1, each lent to one running
// task at a time and back once the last process of that task is gone.
//
// A uid that still owns a process the pool did not lend (a task of a previous run of the agent,
// killed -9, whose processes are still dying) is never lent: the pool looks for such processes
// when it is made, and looks again for those it found only when it has no other uid to lend.
//
// Not thread-safe: used on the agent's owner thread. A lease must be dropped on that thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <vector>

#include "common/core/result.h"

namespace autovibe::box {

class UidPool {
 public:
  // The uid a lease holds; it goes back to the pool when the lease is destroyed.
  class Lease {
   public:
    Lease(std::shared_ptr<std::vector<bool>> used, uid_t base, size_t index)
        : used_(std::move(used)), base_(base), index_(index) {}
    ~Lease() { (*used_)[index_] = false; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    uid_t uid() const { return base_ + static_cast<uid_t>(index_); }

   private:
    std::shared_ptr<std::vector<bool>> used_;
    uid_t base_;
    size_t index_;
  };

  // Which uids of [first, first + count) own a process now (sorted): the pool's view of the
  // host, box::UidsWithProcesses unless a test says otherwise.
  using ProcessUids = std::function<std::vector<uid_t>(uid_t first, size_t count)>;

  // Reads which of its uids still own a process (`processes`, once, here).
  UidPool(uid_t base, size_t size, ProcessUids processes = {});

  // The lowest free uid that owns no process. Error "busy" when every one is lent (tasks still
  // stopping) or still owns a process after a fresh look.
  Result<std::shared_ptr<Lease>> Acquire();
  size_t in_use() const;
  // Uids not lent that still owned a process when last looked at.
  size_t held_by_others() const;

 private:
  std::shared_ptr<Lease> LendFree();
  void LookForProcesses();

  uid_t base_;
  std::shared_ptr<std::vector<bool>> used_;  // shared with the leases, which may outlive us
  std::vector<bool> held_;                   // owns a process the pool did not lend it to
  ProcessUids processes_;
};

}  // namespace autovibe::box
