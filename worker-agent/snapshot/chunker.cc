#include "worker-agent/snapshot/chunker.h"

#include <algorithm>
#include <array>
#include <bit>

namespace autovibe::snapshot {
namespace {

// 256 fixed pseudo-random words (splitmix64 from a fixed seed). They decide every cut, so
// they may never change: a store's chunks are only shared with cuts made by the same table.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> gear{};
  uint64_t x = 0x6175746f76696265;  // "autovibe"
  for (auto& g : gear) {
    x += 0x9e3779b97f4a7c15;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    g = z ^ (z >> 31);
  }
  return gear;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// A mask of `bits` ones in the top of the word: the gear hash's high bits depend on the last
// 64 bytes, its low ones only on the last few.
constexpr uint64_t TopBits(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }

}  // namespace

size_t NextCut(std::span<const uint8_t> data, const ChunkSizes& sizes) {
  size_t n = data.size();
  if (n <= sizes.min) return n;
  n = std::min(n, sizes.max);
  size_t normal = std::min(n, sizes.average);
  // Normalised chunking: harder to cut before the average size, easier after it, so chunk
  // sizes cluster around the average.
  int bits = std::bit_width(sizes.average) - 1;
  uint64_t hard = TopBits(bits + 2);
  uint64_t easy = TopBits(bits - 2);
  uint64_t fp = 0;
  size_t i = sizes.min;
  for (; i < normal; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & hard) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & easy) == 0) return i + 1;
  }
  return n;
}

}  // namespace autovibe::snapshot
