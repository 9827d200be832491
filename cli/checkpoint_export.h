// `autovibe checkpoint export CP [-o FILE]`: a workspace checkpoint as a tar+zstd archive
// (GET /v1/checkpoints/{id}/archive), streamed to a file or to standard output.
#pragma once

#include <string>

#include "cli/command.h"

namespace autovibe::cli {

// Writes checkpoint `id`'s archive to `output` ("-": ctx.out; empty: <id>.tar.zst), and says
// where it went (nothing for "-"). A file appears only whole: the archive is written beside it
// under another name and renamed at its end, and nothing is left behind when the download
// fails.
CliStatus ExportCheckpoint(CommandContext& ctx, const std::string& id, const std::string& output);

}  // namespace autovibe::cli
