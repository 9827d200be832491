#include "worker-agent/runner/tool_process.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <utility>

#include "worker-agent/runner/tool_keeper.h"
#include "worker-agent/runner/tool_spawn.h"

namespace autovibe {
namespace {

using namespace std::chrono_literals;
using boost::asio::posix::stream_descriptor;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 << 10;
// The keeper writes the status just before it exits; reaping it takes a moment at most.
constexpr auto kReapPoll = 5ms;
// Once the tool's tree is dead, a pipe still open is held by something that left it (passed
// the descriptor on, or is stuck in the kernel): wait this long for EOF, then stop reading.
constexpr auto kOutputDrainLimit = 1s;
// A keeper that did not finish after being told to kill everything is killed itself.
constexpr auto kKeeperKillTimeout = 2s;

// One tool run. Handlers hold a shared_ptr to it, so it outlives the handle while the keeper
// is being reaped; after Abandon() no user callback runs.
class ToolRun : public std::enable_shared_from_this<ToolRun> {
 public:
  ToolRun(boost::asio::io_context& ioc, const ToolProcessOptions& options,
          ToolProcess::OutputHandler on_output, ToolProcess::ExitHandler on_exit,
          runner::SpawnedTool spawned, SteadyClock::time_point started)
      : max_output_(options.max_output_bytes),
        timeout_(options.timeout),
        grace_(options.grace),
        on_output_(std::move(on_output)),
        on_dropped_(options.on_dropped_output),
        on_exit_(std::move(on_exit)),
        keeper_(spawned.keeper),
        tool_(spawned.tool),
        started_(started),
        keep_until_reaped_(options.keep_until_reaped),
        out_{stream_descriptor(ioc, spawned.out.Release()), OutputStream::kStdout},
        err_{stream_descriptor(ioc, spawned.err.Release()), OutputStream::kStderr},
        status_(ioc, spawned.status.Release()),
        timeout_timer_(ioc),
        grace_timer_(ioc),
        reap_timer_(ioc),
        drain_timer_(ioc) {}

  void Begin() {
    Read(out_);
    Read(err_);
    ReadStatus();
    if (timeout_ > Duration::zero()) {
      timeout_timer_.expires_after(timeout_);
      timeout_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->Stop(/*timed_out=*/true);
      });
    }
  }

  pid_t tool_pid() const { return tool_; }

  void Stop(bool timed_out) {
    if (stopping_ || keeper_reaped_) return;
    stopping_ = true;
    (timed_out ? exit_.timed_out : exit_.cancelled) = true;
    timeout_timer_.cancel();
    kill(keeper_, runner::kKeeperCancelSignal);
    grace_timer_.expires_after(grace_);
    grace_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->keeper_reaped_) kill(self->keeper_, runner::kKeeperKillSignal);
    });
  }

  // The handle is gone: kill everything, keep reaping, call nothing more.
  void Abandon() {
    abandoned_ = true;
    if (!in_callback_) DropCallbacks();
    CloseStream(out_);
    CloseStream(err_);
    timeout_timer_.cancel();
    grace_timer_.cancel();
    drain_timer_.cancel();
    if (keeper_reaped_) return;
    kill(keeper_, runner::kKeeperKillSignal);
    grace_timer_.expires_after(kKeeperKillTimeout);
    grace_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->keeper_reaped_) kill(self->keeper_, SIGKILL);
    });
  }

 private:
  struct Stream {
    stream_descriptor fd;
    OutputStream which;
    bool open = true;
    std::unique_ptr<std::array<char, kReadChunk>> buf =
        std::make_unique<std::array<char, kReadChunk>>();
  };

  void Read(Stream& s) {
    s.fd.async_read_some(
        boost::asio::buffer(*s.buf),
        [self = shared_from_this(), &s](error_code ec, size_t n) { self->OnRead(s, ec, n); });
  }

  void OnRead(Stream& s, error_code ec, size_t n) {
    if (!s.open) return;  // closed on purpose; whoever closed it moves on
    if (n > 0) Deliver(s.which, std::string_view(s.buf->data(), n));
    if (!s.open) return;  // the output handler destroyed the handle
    if (ec) {
      CloseStream(s);
      MaybeFinish();
      return;
    }
    Read(s);
  }

  // Past the cap output is still read (a tool blocked on a full pipe would hang) but dropped.
  void Deliver(OutputStream which, std::string_view data) {
    const size_t room = max_output_ - std::min(max_output_, delivered_);
    const size_t kept = std::min(room, data.size());
    delivered_ += kept;
    exit_.output_bytes_dropped += data.size() - kept;
    if (abandoned_) return;
    in_callback_ = true;
    if (kept > 0 && on_output_) on_output_(which, data.substr(0, kept));
    if (kept < data.size() && !abandoned_ && on_dropped_) on_dropped_(which, data.substr(kept));
    in_callback_ = false;
    if (abandoned_) DropCallbacks();
  }

  void ReadStatus() {
    status_.async_read_some(
        boost::asio::buffer(status_buf_.data() + status_len_, status_buf_.size() - status_len_),
        [self = shared_from_this()](error_code ec, size_t n) {
          self->status_len_ += n;
          // EOF (or a full buffer) means the keeper is exiting: its work is done.
          if (!ec && self->status_len_ < self->status_buf_.size()) return self->ReadStatus();
          self->TryReap();
        });
  }

  void TryReap() {
    int wait_status = 0;
    const pid_t r = waitpid(keeper_, &wait_status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      reap_timer_.expires_after(kReapPoll);
      reap_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->TryReap();
      });
      return;
    }
    // r < 0 (ECHILD): someone else reaped the keeper; the status pipe still has the answer.
    keeper_reaped_ = true;
    status_.close();
    timeout_timer_.cancel();
    grace_timer_.cancel();
    RecordExit(r == keeper_ ? wait_status : 0, r == keeper_);
    if (out_.open || err_.open) {
      drain_timer_.expires_after(kOutputDrainLimit);
      drain_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return;
        spdlog::warn("tool pid={} left its output open after exiting; output cut short",
                     self->tool_);
        self->CloseStream(self->out_);
        self->CloseStream(self->err_);
        self->MaybeFinish();
      });
    }
    MaybeFinish();
  }

  void RecordExit(int keeper_status, bool keeper_known) {
    exit_known_ = true;
    exit_.wall = std::chrono::duration_cast<Duration>(SteadyClock::now() - started_);
    exit_.exit_code = -1;
    exit_.signal = SIGKILL;
    if (status_len_ != sizeof(int32_t)) {
      // The keeper was killed from outside before reporting; the tool went with it.
      if (keeper_known && WIFSIGNALED(keeper_status)) exit_.signal = WTERMSIG(keeper_status);
      spdlog::warn("keeper of tool pid={} ended without reporting; killing its group", tool_);
      // Best effort, and the one place the group is signalled directly: the tool died with
      // its keeper (PDEATHSIG), but what it started may live on in its group. The group id
      // stays reserved while any member lives, so this can only miss, not hit a stranger,
      // unless the group emptied and its id was reused within these milliseconds.
      kill(-tool_, SIGKILL);
      return;
    }
    int32_t tool_status = 0;
    std::memcpy(&tool_status, status_buf_.data(), sizeof tool_status);
    if (WIFEXITED(tool_status)) {
      exit_.exit_code = WEXITSTATUS(tool_status);
      exit_.signal = 0;
    } else if (WIFSIGNALED(tool_status)) {
      exit_.signal = WTERMSIG(tool_status);
    }
  }

  void CloseStream(Stream& s) {
    if (!s.open) return;
    s.open = false;
    error_code ignored;
    s.fd.close(ignored);
  }

  void MaybeFinish() {
    if (finished_ || !exit_known_ || out_.open || err_.open) return;
    finished_ = true;
    drain_timer_.cancel();
    if (abandoned_) return;
    auto on_exit = std::move(on_exit_);
    on_output_ = nullptr;
    if (on_exit) on_exit(exit_);
  }

  void DropCallbacks() {
    on_output_ = nullptr;
    on_dropped_ = nullptr;
    on_exit_ = nullptr;
  }

  const size_t max_output_;
  const Duration timeout_;
  const Duration grace_;
  ToolProcess::OutputHandler on_output_;
  ToolProcess::OutputHandler on_dropped_;
  ToolProcess::ExitHandler on_exit_;
  const pid_t keeper_;
  const pid_t tool_;
  const SteadyClock::time_point started_;
  const std::shared_ptr<void> keep_until_reaped_;
  Stream out_, err_;
  stream_descriptor status_;
  std::array<char, sizeof(int32_t)> status_buf_{};
  size_t status_len_ = 0;
  boost::asio::steady_timer timeout_timer_, grace_timer_, reap_timer_, drain_timer_;
  ToolExit exit_;
  size_t delivered_ = 0;
  bool stopping_ = false;
  bool keeper_reaped_ = false;
  bool exit_known_ = false;
  bool finished_ = false;
  bool abandoned_ = false;
  bool in_callback_ = false;
};

class ToolProcessHandle final : public ToolProcess {
 public:
  explicit ToolProcessHandle(std::shared_ptr<ToolRun> run) : run_(std::move(run)) {}
  ~ToolProcessHandle() override { run_->Abandon(); }

  // ToolProcess
  pid_t pid() const override { return run_->tool_pid(); }
  void Cancel() override { run_->Stop(/*timed_out=*/false); }

 private:
  std::shared_ptr<ToolRun> run_;
};

}  // namespace

Result<std::unique_ptr<ToolProcess>> StartToolProcess(boost::asio::io_context& ioc,
                                                      ToolProcessOptions options,
                                                      ToolProcess::OutputHandler on_output,
                                                      ToolProcess::ExitHandler on_exit) {
  const auto started = SteadyClock::now();
  auto spawned = runner::SpawnTool(options);
  if (!spawned) return spawned.error();
  spdlog::debug("tool started pid={} keeper={} binary={}", spawned->tool, spawned->keeper,
                options.argv[0]);
  auto run = std::make_shared<ToolRun>(ioc, options, std::move(on_output), std::move(on_exit),
                                       std::move(*spawned), started);
  run->Begin();
  return std::unique_ptr<ToolProcess>(std::make_unique<ToolProcessHandle>(std::move(run)));
}

}  // namespace autovibe
