// Text as JSON and logs need it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

// Text fit for a JSON string: invalid UTF-8 sequences become U+FFFD.
std::string ValidUtf8(std::string_view bytes);

// The non-empty segments of a '/'-separated path: "/a//b/" -> {"a", "b"}.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace autovibe
