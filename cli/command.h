// What every CLI command shares: the global options, the error a command ends with, and the
// context a command runs in. One file per noun (machines_cmd.cc, ...) registers its verbs.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace autovibe::cli {

class Client;

// Exit codes, the same for every command.
inline constexpr int kExitFailure = 1;      // the controller refused the request, bad answer, ...
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 5;  // no controller at the URL
inline constexpr int kExitUnauthorized = 3;
inline constexpr int kExitNotFound = 4;
// `task submit --wait`: the task was paused (a budget ran out, its project was stopped); it
// goes on when allowed again. 75 is sysexits' EX_TEMPFAIL.
inline constexpr int kExitPaused = 75;

// Options that may stand anywhere on the command line.
struct GlobalOptions {
  std::string controller;  // empty: AUTOVIBE_CONTROLLER, else the default URL
  std::string token;       // empty: AUTOVIBE_TOKEN, else a token file
  std::string ca;          // empty: AUTOVIBE_CA, else (a local controller) its certificate
  std::string pin;         // empty: AUTOVIBE_PIN
  bool json = false;
};

// Why a command failed: `message` is one line for stderr (without the "autovibe: " prefix).
struct CliError {
  int exit_code = kExitFailure;
  std::string message;
};

// "exit 4: no machine m-1", for test failure output and logs.
inline std::ostream& operator<<(std::ostream& os, const CliError& e) {
  return os << "exit " << e.exit_code << ": " << e.message;
}

// Called by CliResult<T>::value() on an error; found by argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const CliError& e, const boost::source_location& loc);

template <class T>
using CliResult = boost::system::result<T, CliError>;
using CliStatus = CliResult<void>;

// What a command may use while it runs. Output goes to `out`; errors are returned, not printed.
struct CommandContext {
  const Client& client;
  const GlobalOptions& options;
  std::ostream& out;
  int64_t now_ms = 0;           // wall time in Unix milliseconds, for ages like "3s ago"
  std::ostream* err = nullptr;  // notes for people beside the answer (hints); may be null
};

using Action = std::function<CliStatus(CommandContext&)>;

// The result of parsing a command line: the options and the command it selected.
struct Invocation {
  GlobalOptions options;
  std::string command;  // "machines list", for messages and tests
  Action action;
};

}  // namespace autovibe::cli
