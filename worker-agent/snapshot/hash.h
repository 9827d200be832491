// The SHA-256 digest that names every chunk and tree of the checkpoint store.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace autovibe::snapshot {

struct Hash {
  std::array<uint8_t, 32> bytes{};

  auto operator<=>(const Hash&) const = default;
  std::string hex() const;
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

Hash Sha256(std::span<const uint8_t> data);
inline Hash Sha256(std::string_view data) {
  return Sha256({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
}

// A hash from its 32 raw bytes (as a protobuf `bytes` field holds it); nullopt otherwise.
std::optional<Hash> HashFromBytes(std::string_view raw);
// A hash from 64 hex digits; nullopt otherwise.
std::optional<Hash> HashFromHex(std::string_view hex);

struct HashKey {
  size_t operator()(const Hash& h) const {
    size_t k;
    std::memcpy(&k, h.bytes.data(), sizeof k);  // already uniformly spread
    return k;
  }
};

}  // namespace autovibe::snapshot
