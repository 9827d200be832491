// Errors as values across module boundaries.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace autovibe {

// What went wrong, in the terms callers act on: a closed set. Its names (ErrorName) appear
// only at the edges, in bus replies and HTTP error bodies, spelled as they always have been.
enum class ErrorCode : uint8_t {
  kBadRequest,        // bad_request: the caller's input is wrong; nothing changed
  kBadConfig,         // bad_config: a configuration file or flag is wrong
  kNotFound,          // not_found
  kConflict,          // conflict: not allowed in the current state
  kUnauthorized,      // unauthorized
  kMethodNotAllowed,  // method_not_allowed
  kTooLarge,          // too_large
  kUnsupported,       // unsupported: this backend or build cannot
  kUnavailable,       // unavailable: a peer, daemon or host cannot be reached or answer now
  kNoResponders,      // no_responders: nobody listens on that bus subject
  kTimeout,           // timeout
  kIo,                // io: a local file or a stream failed
  kStore,             // store: the database refused or failed a write or a read
  kCorrupt,           // corrupt: stored data is damaged
  kHostileManifest,   // hostile_manifest: a checkpoint would write outside its workspace
  kIncomplete,        // incomplete: a checkpoint lacks objects
  kBadData,           // bad_data: figures (from the kernel, a peer) that do not parse
  kTls,               // tls
  kBadUrl,            // bad_url
  kBadTask,           // bad_task: the machine can never run this task
  kBusy,              // busy: not now (its slots are full, an older copy is stopping)
  kDraining,          // draining: the machine takes no new work
  kBudgetExhausted,   // budget_exhausted
  kUnknownModel,      // unknown_model: no price for the model
  kFailed,            // failed: a program or a peer failed without saying more
  kRepoUnavailable,   // repo_unavailable: a task's repository cannot be fetched or checked out
  kInternal,          // internal: a broken invariant
};

// The name on the wire and in HTTP bodies ("not_found").
std::string_view ErrorName(ErrorCode c);
// A name from the wire; also the spellings that drifted once (timed_out, invalid_request,
// unreachable, bad_duration). Nothing for a name this version does not know.
std::optional<ErrorCode> ParseErrorCode(std::string_view name);

inline std::ostream& operator<<(std::ostream& os, ErrorCode c) { return os << ErrorName(c); }

// A failure a caller can act on: `code` says what kind, `message` is a sentence for people.
struct Error {
  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

inline std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << ErrorName(e.code) << ": " << e.message;
}

// Called by Result<T>::value() on an error; found by argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace autovibe
