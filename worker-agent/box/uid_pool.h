// The task users of one agent: uid (and gid) base .. base + size - 1, each lent to one running
// task at a time and back once the last process of that task is gone.
//
// Not thread-safe: used on the agent's owner thread. A lease must be dropped on that thread.
#pragma once

#include <sys/types.h>

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

  UidPool(uid_t base, size_t size)
      : base_(base), used_(std::make_shared<std::vector<bool>>(size, false)) {}

  // The lowest free uid. Error "busy" when every one is lent (tasks still stopping).
  Result<std::shared_ptr<Lease>> Acquire();
  size_t in_use() const;

 private:
  uid_t base_;
  std::shared_ptr<std::vector<bool>> used_;  // shared with the leases, which may outlive us
};

}  // namespace autovibe::box
