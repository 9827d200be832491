#include "tests/support/test_certs.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "common/core/run_program.h"

namespace autovibe::testing {
namespace {

void Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto r = RunProgram({.argv = args, .timeout = std::chrono::seconds(30)});
  if (!r) throw std::runtime_error("openssl " + args[1] + " failed: " + r.error().message);
}

const std::vector<std::string> kEcKey = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                         "-nodes"};

}  // namespace

TestCa MakeTestCa(const std::string& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  TestCa ca{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  std::vector<std::string> args = {"req", "-x509"};
  args.insert(args.end(), kEcKey.begin(), kEcKey.end());
  args.insert(args.end(),
              {"-keyout", ca.key, "-out", ca.cert, "-days", "30", "-subj", "/CN=" + name});
  Openssl(args);
  chmod(ca.key.c_str(), 0600);
  return ca;
}

TestCert IssueTestCert(const TestCa& ca, const std::string& dir, const std::string& name,
                       const std::string& names, int days) {
  std::filesystem::create_directories(dir);
  TestCert c{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  std::vector<std::string> args = {"req"};
  args.insert(args.end(), kEcKey.begin(), kEcKey.end());
  args.insert(args.end(), {"-keyout", c.key, "-out", csr, "-subj", "/CN=" + name});
  Openssl(args);
  chmod(c.key.c_str(), 0600);
  std::ofstream(ext) << "subjectAltName=" << names << "\n"
                     << "extendedKeyUsage=serverAuth,clientAuth\n";
  // -days -1: notBefore is now and notAfter a day ago: expired.
  Openssl({"x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out",
           c.cert, "-days", std::to_string(days), "-extfile", ext});
  return c;
}

}  // namespace autovibe::testing
