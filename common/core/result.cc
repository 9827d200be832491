#include "common/core/result.h"

#include <stdexcept>

namespace autovibe {

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  // Only reached when code calls value() on an error without checking: a programming error.
  throw std::runtime_error(e.code + ": " + e.message);
}

}  // namespace autovibe
