// The size limits Boost.JSON's SAX parser asks its handler for: none (the proxy caps a body's
// bytes before it is read). Handlers that only look at a request derive from this.
#pragma once

#include <cstddef>

namespace autovibe::meter {

struct SaxNoLimits {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;
};

}  // namespace autovibe::meter
