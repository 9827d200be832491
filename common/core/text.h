// Text as JSON and logs need it.
#pragma once

#include <string>
#include <string_view>

namespace autovibe {

// Text fit for a JSON string: invalid UTF-8 sequences become U+FFFD.
std::string ValidUtf8(std::string_view bytes);

}  // namespace autovibe
