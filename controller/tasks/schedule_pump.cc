#include "controller/tasks/schedule_pump.h"

#include <boost/asio/post.hpp>

namespace autovibe {

SchedulePump::SchedulePump(boost::asio::io_context* ioc, std::function<size_t(size_t)> pass,
                           size_t step)
    : ioc_(ioc), pass_(std::move(pass)), step_(step) {}

void SchedulePump::Request() {
  if (queued_ || stopped_ || ioc_ == nullptr) return;
  queued_ = true;
  boost::asio::post(*ioc_, [this] { Pass(); });
}

void SchedulePump::Pass() {
  queued_ = false;
  if (stopped_) return;
  if (pass_(step_) == step_) Request();
}

}  // namespace autovibe
