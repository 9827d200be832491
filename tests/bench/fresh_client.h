// Calls made the way a tool inside a task makes them: from a process of its own (not a thread
// of the bench, which the kernel would wake on the CPU of the thread that woke it), each on a
// new TCP connection that is closed after the answer, as curl, Python's requests without a
// session and many other HTTP clients do.
//
// The bench runs itself as that process (meter_bench --fresh-client ...): ServeFreshClient is
// its main, RunFreshClient starts it, waits for it and reads what it measured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace autovibe::bench {

struct FreshClientArgs {
  std::string url;        // http://127.0.0.1:PORT
  std::string key;        // sent as x-api-key
  int calls = 0;          // measured calls
  int warmup = 0;         // calls made first and not reported
  std::string id_prefix;  // each call names itself "<prefix>-<n>" (metadata.user_id)
  uid_t uid = 0;          // the user its sockets belong to: the task's, as its tool's do
};

// One measured call, timed on the machine's monotonic clock (steady_clock in every process):
// from before the connect to the last byte of the answer read.
struct FreshCall {
  std::string id;
  std::chrono::steady_clock::time_point start, end;
};

// The client process's main: makes the calls one after another, then prints one line per
// measured call ("call ID START_NS END_NS"). Returns 1 if a call failed.
int ServeFreshClient(const FreshClientArgs& args);

// Runs the client process (this executable, `self`) and returns its measured calls, or nullopt
// if it failed or took more than `deadline`. `log` takes its output.
std::optional<std::vector<FreshCall>> RunFreshClient(const std::string& self,
                                                     const FreshClientArgs& args,
                                                     const std::string& log,
                                                     std::chrono::milliseconds deadline);

// A streaming messages call that names itself, so the upstream's own time on it can be matched.
std::string CallBody(const std::string& id);

// The options that run ServeFreshClient (after the executable's name).
std::vector<std::string> FreshClientArgv(const FreshClientArgs& args);

}  // namespace autovibe::bench
