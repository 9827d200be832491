// autovibe-controller: see DESIGN.md, "Daemons".
#include <iostream>
#include <optional>

#include "common/bus/bus.h"
#include "common/core/files.h"
#include "common/core/log.h"
#include "controller/controller.h"
#include "controller/store/backup.h"

namespace {

// `autovibe-controller backup --to FILE` and `restore --from FILE`.
int BackupOrRestore(const autovibe::ParsedArgs& args) {
  using namespace autovibe;
  const std::string db = args.config.data_dir + "/controller.db";
  Result<BackupInfo> done = MakeError(ErrorCode::kBadRequest, "nothing to do");
  std::optional<DataDirLock> lock;
  if (args.command == "backup") {
    done = BackupDatabase(db, args.file);
  } else {
    // Only into a stopped controller's data dir: a running one would go on with what it has.
    if (auto r = MakeDirs(args.config.data_dir, 0700); !r) {
      done = r.error();
    } else if (auto l = DataDirLock::Take(args.config.data_dir); !l) {
      done = l.error();
    } else {
      lock.emplace(std::move(*l));
      done = RestoreDatabase(args.file, db);
    }
  }
  if (!done) {
    std::cerr << "autovibe-controller: " << args.command << " failed: " << done.error().message
              << "\n";
    return 1;
  }
  std::cout << (args.command == "backup" ? "backed up " + db + " to " + done->path
                                         : "restored " + args.file + " into " + done->path)
            << " (" << done->bytes << " bytes, schema version " << done->schema_version << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = autovibe::ParseControllerArgs(argc, argv);
  if (args.exit_code >= 0) return args.exit_code;
  if (!args.command.empty()) return BackupOrRestore(args);
  autovibe::InitLogging("controller", args.config.log_level);
  int code = 1;
  {
    auto controller = autovibe::CreateController(args.config);
    if (!controller) {
      spdlog::critical("cannot start: {}", controller.error().message);
      std::cerr << "autovibe-controller: " << controller.error().message << "\n";
      return 1;
    }
    code = (*controller)->Run();
  }
  autovibe::ShutdownNatsLibrary();
  spdlog::info("controller stopped");
  return code;
}
