// Identifiers: a kind prefix and random hex, e.g. "m-3f9a0c1d2b7e".
#pragma once

#include <string>
#include <string_view>

namespace autovibe {

// A new random id with the given prefix ("m" for machines). 48 random bits.
std::string NewId(std::string_view prefix);

// A random secret of `bytes` bytes, hex-encoded (for API tokens).
std::string NewSecret(size_t bytes = 32);

}  // namespace autovibe
