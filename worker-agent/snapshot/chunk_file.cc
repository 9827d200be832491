#include "worker-agent/snapshot/chunk_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autovibe::snapshot {

Result<std::vector<v1::ChunkRef>> ChunkFile(int fd, uint64_t expected_size,
                                            ChunkStore::Writer& writer, std::string& buffer,
                                            const ChunkSizes& sizes) {
  std::vector<v1::ChunkRef> chunks;
  if (buffer.size() < sizes.max) buffer.resize(sizes.max);
  size_t held = 0;
  uint64_t total = 0;
  bool eof = false;
  while (!eof || held > 0) {
    // Fill the buffer: a cut is only decided with a whole maximum chunk, or the file's end,
    // in hand.
    while (!eof && held < sizes.max) {
      ssize_t n = ::read(fd, buffer.data() + held, sizes.max - held);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return MakeError(ErrorCode::kIo, std::string("cannot read: ") + std::strerror(errno));
      held += static_cast<size_t>(n);
      total += static_cast<uint64_t>(n);
      // Its whole size read: no second read only to be told the end.
      if (n == 0 || total >= expected_size) eof = true;
    }
    if (held == 0) break;
    auto data = std::span(reinterpret_cast<const uint8_t*>(buffer.data()), held);
    size_t cut = NextCut(data, sizes);
    auto piece = data.first(cut);
    Hash h = Sha256(piece);
    if (auto r = writer.Put(h, piece); !r) return r.error();
    v1::ChunkRef ref;
    ref.set_hash(std::string(h.view()));
    ref.set_size(static_cast<uint32_t>(cut));
    chunks.push_back(std::move(ref));
    std::memmove(buffer.data(), buffer.data() + cut, held - cut);
    held -= cut;
  }
  return chunks;
}

}  // namespace autovibe::snapshot
