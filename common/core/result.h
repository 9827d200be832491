// Errors as values across module boundaries.
#pragma once

#include <boost/system/result.hpp>
#include <ostream>
#include <string>
#include <utility>

namespace autovibe {

// A failure a caller can act on: `code` is a short machine-readable word ("not_found",
// "bad_request", "unavailable", ...), `message` a sentence for people.
struct Error {
  Error() = default;
  // Two arguments, so a Result<std::string> built from a string is a value, never an error.
  Error(std::string c, std::string m) : code(std::move(c)), message(std::move(m)) {}
  std::string code;
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

inline Error MakeError(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

inline std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << e.code << ": " << e.message;
}

// Called by Result<T>::value() on an error; found by argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace autovibe
