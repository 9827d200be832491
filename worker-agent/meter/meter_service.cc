#include "worker-agent/meter/meter_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <map>
#include <thread>

#include "common/bus/subjects.h"

namespace autovibe::meter {
namespace {

namespace asio = boost::asio;

// Lease requests over the bus, answered on the meter's thread.
class BusLeaseChannel final : public LeaseChannel {
 public:
  BusLeaseChannel(asio::io_context& ioc, Bus& bus, std::string prefix, Duration timeout)
      : ioc_(ioc), bus_(bus), prefix_(std::move(prefix)), timeout_(timeout) {}

  void SetMachineId(std::string id) { machine_id_ = std::move(id); }

  void Ask(const v1::LeaseRequest& request,
           std::function<void(Result<v1::LeaseReply>)> done) override {
    if (machine_id_.empty()) {
      asio::post(ioc_, [done = std::move(done)] {
        done(MakeError(ErrorCode::kUnavailable,
                       "the agent has not registered with the controller yet"));
      });
      return;
    }
    v1::LeaseRequest req = request;
    req.set_machine_id(machine_id_);
    bus_.RequestAsync(Subjects(prefix_).Lease(machine_id_), req.SerializeAsString(), timeout_,
                      [this, done = std::move(done)](Result<std::string> raw) mutable {
                        asio::post(ioc_, [raw = std::move(raw), done = std::move(done)] {
                          if (!raw) {
                            done(raw.error());
                            return;
                          }
                          v1::LeaseReply reply;
                          if (!reply.ParseFromString(*raw)) {
                            done(MakeError(ErrorCode::kUnavailable, "undecodable lease reply"));
                            return;
                          }
                          done(std::move(reply));
                        });
                      });
  }

 private:
  asio::io_context& ioc_;
  Bus& bus_;
  const std::string prefix_;
  const Duration timeout_;
  std::string machine_id_;
};

// Usage records are written to the outbox (its log) as they come, but its thread is woken to
// send them only a moment later (kLinger), for several at a time when calls are many: woken on
// every one, on a busy machine that thread runs ahead of the meter's and holds back the tool's
// next request, which typically comes at once. A call's reservation is written down before the
// call is forwarded, as the estimated record that charges it should the agent die first.
class OutboxUsageSink final : public UsageSink {
 public:
  static constexpr std::chrono::milliseconds kLinger{2};

  OutboxUsageSink(asio::io_context& ioc, EventOutbox& outbox,
                  std::function<void(std::vector<std::string>)> on_responses)
      : timer_(ioc), outbox_(outbox), on_responses_(std::move(on_responses)) {}
  ~OutboxUsageSink() override { Hand(); }

  void Hand() {
    timer_.cancel();
    if (!lingering_) return;
    lingering_ = false;
    outbox_.Kick();
    if (on_responses_ && !tasks_.empty()) on_responses_(std::move(tasks_));
    tasks_.clear();
  }

  void Reserved(const std::string& id, const v1::UsageRecord& estimate) override {
    v1::AgentEvent e;
    e.set_event_id(id);
    *e.mutable_usage() = estimate;
    if (!outbox_.AddFallback(std::move(e))) {
      spdlog::error("meter: reservation not written down: no machine id yet");
    }
  }
  void Settled(const std::string& id, v1::UsageRecord record) override {
    Add(id, std::move(record));
  }
  void Record(v1::UsageRecord record) override { Add("", std::move(record)); }

 private:
  void Add(const std::string& id, v1::UsageRecord record) {
    if (std::find(tasks_.begin(), tasks_.end(), record.task_id()) == tasks_.end()) {
      tasks_.push_back(record.task_id());
    }
    v1::AgentEvent e;
    e.set_event_id(id);
    *e.mutable_usage() = std::move(record);
    if (!outbox_.AddQuietly(std::move(e)))
      spdlog::error("meter: usage record lost: no machine id yet");
    if (lingering_) return;  // the timer is set
    lingering_ = true;
    timer_.expires_after(kLinger);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) Hand();
    });
  }

  asio::steady_timer timer_;
  EventOutbox& outbox_;
  std::function<void(std::vector<std::string>)> on_responses_;
  std::vector<std::string> tasks_;  // whose calls were answered since the last Hand()
  bool lingering_ = false;
};

}  // namespace

struct MeterService::Impl {
  Impl(Bus& bus, EventOutbox& outbox, const MeterServiceOptions& o,
       LeaseBook::OnExhausted on_exhausted)
      : channel(ioc, bus, o.subject_prefix, o.lease_timeout),
        sink(ioc, outbox, o.on_responses),
        book(ioc, channel, sink, o.leases, std::move(on_exhausted)) {}

  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  BusLeaseChannel channel;
  OutboxUsageSink sink;
  LeaseBook book;
  ProxyStats stats;
  std::unique_ptr<MeteringProxy> proxy;  // before the thread: started, then served there
  // Proxy-only tasks' own listening sockets, by task.
  std::map<std::string, std::unique_ptr<TcpListener>> task_listeners;
  std::thread thread;
};

Result<std::unique_ptr<MeterService>> MeterService::Start(Bus& bus, EventOutbox& outbox,
                                                          const PriceTable& prices,
                                                          MeterServiceOptions options,
                                                          LeaseBook::OnExhausted on_exhausted) {
  auto impl = std::make_unique<Impl>(bus, outbox, options, std::move(on_exhausted));
  options.proxy.stats = &impl->stats;
  auto proxy = StartMeteringProxy(impl->ioc, options.proxy, impl->book, prices);
  if (!proxy) return proxy.error();
  impl->proxy = std::move(*proxy);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<MeterService>(new MeterService(std::move(impl)));
}

MeterService::MeterService(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), url_(impl_->proxy->url()) {}

MeterService::~MeterService() {
  asio::post(impl_->ioc, [impl = impl_.get()] {
    impl->proxy->Stop();
    impl->ioc.stop();
  });
  impl_->thread.join();
}

void MeterService::SetMachineId(const std::string& machine_id) {
  asio::post(impl_->ioc,
             [impl = impl_.get(), machine_id] { impl->channel.SetMachineId(machine_id); });
}

void MeterService::HandOverUsage() {
  std::promise<void> handed;
  asio::post(impl_->ioc, [impl = impl_.get(), &handed] {
    impl->sink.Hand();
    handed.set_value();
  });
  handed.get_future().wait();
}

void MeterService::RenderMetrics(std::function<void(std::string)> done) {
  asio::post(impl_->ioc, [impl = impl_.get(), done = std::move(done)] {
    MetricsText out;
    RenderMeterMetrics(impl->stats, impl->book.counters(), impl->book.open_leases(), out);
    done(std::move(out.text()));
  });
}

void MeterService::TaskStarted(const v1::RunTask& task, const std::string& token,
                               const TokenBinding& binding) {
  MeteredTask t{task.task_id(), task.attempt(), task.project(), binding.uid, binding.own_listener};
  asio::post(impl_->ioc, [impl = impl_.get(), t, token] { impl->book.TaskStarted(t, token); });
}

void MeterService::TaskEnded(const std::string& task_id) {
  asio::post(impl_->ioc, [impl = impl_.get(), task_id] {
    impl->book.TaskEnded(task_id);
    impl->task_listeners.erase(task_id);
  });
}

void MeterService::TaskListener(const std::string& task_id, int listening_fd) {
  asio::post(impl_->ioc, [impl = impl_.get(), task_id, listening_fd] {
    auto listener = impl->proxy->AlsoAccept(listening_fd, task_id);
    if (!listener) {
      spdlog::error("meter: task {} gets no proxy: {}", task_id, listener.error().message);
      return;
    }
    impl->task_listeners[task_id] = std::move(*listener);
  });
}

}  // namespace autovibe::meter
