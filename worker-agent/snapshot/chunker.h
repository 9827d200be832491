// Content-defined chunking (FastCDC with a gear hash): where to cut a file so that an edit
// moves only the cuts near it, and the chunks around it are stored once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace autovibe::snapshot {

struct ChunkSizes {
  size_t min = 256 << 10;
  size_t average = 1 << 20;
  size_t max = 4 << 20;
};

// The length of the next chunk at the start of `data`. `data` holds at least `sizes.max`
// bytes, or everything left of the file.
// The cuts depend only on the bytes, never on how they were read.
size_t NextCut(std::span<const uint8_t> data, const ChunkSizes& sizes = {});

}  // namespace autovibe::snapshot
