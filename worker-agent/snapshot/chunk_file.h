// Reading one file into the store: cut into chunks, each hashed and added once.
#pragma once

#include <string>
#include <vector>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/chunker.h"

namespace autovibe::snapshot {

// Reads the file open at `fd` to its end, or to `expected_size` (its size when it was found:
// a file that grew since is taken as it was, and its change seen by the caller's fstat).
// `buffer` is scratch space kept between calls.
Result<std::vector<v1::ChunkRef>> ChunkFile(int fd, uint64_t expected_size,
                                            ChunkStore::Writer& writer, std::string& buffer,
                                            const ChunkSizes& sizes = {});

}  // namespace autovibe::snapshot
