// autovibe-agent: see DESIGN.md, "Daemons".
#include <malloc.h>
#include <sys/prctl.h>

#include <iostream>

#include "common/bus/bus.h"
#include "common/core/kernel_random.h"
#include "common/core/log.h"
#include "worker-agent/agent.h"
#include "worker-agent/bus_join.h"
#include "worker-agent/runner/task_env.h"

int main(int argc, char** argv) {
  // A fixed threshold: a block above it (a checkpoint's read buffer, zstd's workspace, a large
  // request body) is memory of its own, given back to the kernel when freed. glibc's default
  // raises the threshold to the largest block freed so far, and keeps later such blocks in
  // the heap: an agent idle after a checkpoint held 4 MB it no longer used.
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  // The provider keys leave the environment before anything else runs, and no process of the
  // agent's user may read this one's memory (ptrace, /proc/<pid>/mem, core dumps).
  autovibe::AgentEnvironment::FromProcess();
  prctl(PR_SET_DUMPABLE, 0);
  auto args = autovibe::ParseAgentArgs(argc, argv);
  if (args.exit_code >= 0) return args.exit_code;
  autovibe::InitLogging("agent", args.config.log_level);
  if (!autovibe::UseKernelRandomInOpenSsl()) {
    spdlog::warn("agent keeps OpenSSL's own random generator: OpenSSL refused the kernel's");
  }
  // A bus user of its own first (a join token is exchanged for one at the first start).
  if (auto r = autovibe::EnrolOnBus(args.config); !r) {
    spdlog::critical("cannot join the fleet: {}", r.error().message);
    std::cerr << "autovibe-agent: " << r.error().message << "\n";
    autovibe::ShutdownNatsLibrary();
    return 1;
  }
  // A bus whose certificate the agent does not trust is waited out here, where a SIGTERM still
  // ends the process: the agent's own signal handling starts with it.
  autovibe::AwaitTrustedBus({.url = args.config.nats_url,
                             .user = args.config.nats_user,
                             .password = args.config.nats_password,
                             .tls = args.config.nats_tls});
  int code = 1;
  {
    auto agent = autovibe::CreateAgent(args.config);
    if (!agent) {
      std::cerr << "autovibe-agent: " << agent.error().message << "\n";
      return 1;
    }
    code = (*agent)->Run();
  }
  autovibe::ShutdownNatsLibrary();
  spdlog::info("agent stopped");
  return code;
}
