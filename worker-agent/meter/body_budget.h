// How many bytes of request bodies the metering proxy holds at once: per client (a task's user,
// or its own listener) and in all. A body is held from its reading until its call ends (it is
// what goes upstream), so without a cap a task could make its agent hold gigabytes, hundreds
// of connections times max_request_bytes, and have it killed for memory. A request over a cap
// is answered 503 (retry shortly) before its body is read.
//
// Owner-thread only (the proxy's).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace autovibe::meter {

class BodyBudget {
 public:
  BodyBudget(int64_t per_client, int64_t total) : per_client_(per_client), total_(total) {}

  // Bytes held for one request; given back when destroyed. Must not outlive the budget.
  class Ticket {
   public:
    Ticket(BodyBudget* budget, std::string client, int64_t bytes)
        : budget_(budget), client_(std::move(client)), bytes_(bytes) {}
    Ticket(Ticket&& o) noexcept
        : budget_(std::exchange(o.budget_, nullptr)),
          client_(std::move(o.client_)),
          bytes_(o.bytes_) {}
    Ticket& operator=(Ticket&& o) noexcept {
      if (this != &o) {
        if (budget_ != nullptr) budget_->Give(client_, bytes_);
        budget_ = std::exchange(o.budget_, nullptr);
        client_ = std::move(o.client_);
        bytes_ = o.bytes_;
      }
      return *this;
    }
    Ticket(const Ticket&) = delete;
    ~Ticket() {
      if (budget_ != nullptr) budget_->Give(client_, bytes_);
    }

   private:
    BodyBudget* budget_;
    std::string client_;
    int64_t bytes_;
  };

  // Holds `bytes` for `client`, or nullopt when that would pass its cap or the total's.
  std::optional<Ticket> Take(const std::string& client, int64_t bytes) {
    int64_t& mine = held_[client];
    if (mine + bytes > per_client_ || in_all_ + bytes > total_) {
      if (mine == 0) held_.erase(client);
      return std::nullopt;
    }
    mine += bytes;
    in_all_ += bytes;
    return Ticket(this, client, bytes);
  }

  int64_t held() const { return in_all_; }

 private:
  void Give(const std::string& client, int64_t bytes) {
    in_all_ -= bytes;
    auto it = held_.find(client);
    if (it != held_.end() && (it->second -= bytes) <= 0) held_.erase(it);
  }

  int64_t per_client_;
  int64_t total_;
  int64_t in_all_ = 0;
  std::map<std::string, int64_t> held_;
};

}  // namespace autovibe::meter
