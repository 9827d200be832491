// autovibe-controller: see DESIGN.md, "Daemons".
#include <iostream>
#include <optional>

#include "common/bus/bus.h"
#include "common/core/files.h"
#include "common/core/log.h"
#include "common/core/time.h"
#include "common/tls/certificate_dir.h"
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

// `autovibe-controller tls init --dir DIR [--name NAME] [--san HOST]...`.
int TlsInit(const autovibe::ParsedArgs& args) {
  using namespace autovibe;
  auto made = MakeCertificateInDir(args.tls_init, SystemClock().NowMs());
  if (!made) {
    std::cerr << "autovibe-controller: tls init failed: " << made.error().message << "\n";
    return 1;
  }
  std::cout << (made->made_ca ? "made the CA " : "signed with the CA ") << made->ca_path
            << " (SHA-256 " << made->ca.fingerprint << ")\n"
            << "made " << made->cert_path << " and " << made->key_path << " for";
  for (const auto& n : made->cert.names) std::cout << " " << n;
  std::cout << "\nvalid until " << FormatRfc3339(made->cert.not_after_ms) << "; SHA-256 "
            << made->cert.fingerprint << "\n"
            << "clients verify it with " << made->ca_path << " (e.g. autovibe --ca "
            << made->ca_path << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = autovibe::ParseControllerArgs(argc, argv);
  if (args.exit_code >= 0) return args.exit_code;
  if (args.command == "tls-init") return TlsInit(args);
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
