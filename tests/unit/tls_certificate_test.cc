// The certificate module (common/tls): fingerprints as OpenSSL's own tool prints them, names,
// validity, key matching, the kept self-signed certificate, and the CA directory. OpenSSL's
// command-line tool checks what the module makes.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/core/files.h"
#include "common/core/run_program.h"
#include "common/core/time.h"
#include "common/tls/certificate.h"
#include "common/tls/certificate_dir.h"
#include "common/tls/issue.h"
#include "common/tls/kept_certificate.h"
#include "tests/support/catch_result.h"
#include "tests/support/process.h"

namespace autovibe {
namespace {

using testing::TempDir;

constexpr int64_t kDay = 24ll * 3600 * 1000;
const int64_t kNow = SystemClock().NowMs();

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir / name;
  REQUIRE(WriteFileAtomic(path, text, 0600));
  return path;
}

std::string Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto out = RunProgram({.argv = std::move(args), .timeout = std::chrono::seconds(30)});
  REQUIRE(out);
  return *out;
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

TEST_CASE("tls: a self-signed certificate carries its names and OpenSSL's fingerprint", "[tls]") {
  TempDir dir;
  auto made = MakeSelfSigned(
      {.common_name = "ctl", .names = {"127.0.0.1", "localhost", "::1", "ctl.example.com"}}, kNow);
  REQUIRE(made);
  const std::string cert = Write(dir, "cert.pem", made->cert_pem);
  auto text = Openssl({"x509", "-in", cert, "-noout", "-fingerprint", "-sha256"});
  CHECK_THAT(text, Catch::Contains(made->info.fingerprint));
  CHECK(made->info.fingerprint.size() == 95);  // 32 pairs and 31 colons
  CHECK(made->info.self_signed);
  CHECK(made->info.subject == "CN=ctl");
  CHECK(made->info.names == std::vector<std::string>{"IP:127.0.0.1", "DNS:localhost",
                                                     "IP:0:0:0:0:0:0:0:1", "DNS:ctl.example.com"});
  CHECK(made->info.not_before_ms <= kNow);
  CHECK(made->info.not_after_ms > kNow + 3000 * kDay);
  CHECK(CheckValidity(made->info, kNow));
  // A client that has it as its CA file accepts it for its names, and only for them.
  CHECK_THAT(Openssl({"verify", "-CAfile", cert, "-verify_ip", "127.0.0.1", cert}),
             Catch::Contains("OK"));
  CHECK_FALSE(RunProgram({.argv = {"openssl", "verify", "-CAfile", cert, "-verify_hostname",
                                   "other.example.com", cert}}));
}

TEST_CASE("tls: fingerprints are taken with or without colons, in either case", "[tls]") {
  const std::string canonical =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
      "67:89";
  std::string plain = canonical;
  std::erase(plain, ':');
  for (std::string form :
       {canonical, plain, std::string("sha256:") + plain, "SHA256 Fingerprint=" + canonical,
        std::string("abcdef") + plain.substr(6)}) {
    INFO(form);
    auto n = NormalizeFingerprint(form);
    REQUIRE(n);
    CHECK(*n == canonical);
  }
  auto short_one = NormalizeFingerprint(plain.substr(2));
  REQUIRE_FALSE(short_one);
  CHECK(short_one.error().code == ErrorCode::kBadRequest);
  CHECK_THAT(short_one.error().message, Catch::Contains("64 hex digits") && Catch::Contains("62"));
  auto not_hex = NormalizeFingerprint("zz" + plain.substr(2));
  REQUIRE_FALSE(not_hex);
  CHECK_THAT(not_hex.error().message, Catch::Contains("'z'"));
}

TEST_CASE("tls: an expired certificate is refused, saying when it expired", "[tls]") {
  TempDir dir;
  auto old = MakeSelfSigned(
      {.names = {"127.0.0.1"}, .not_before_ms = kNow - 10 * kDay, .not_after_ms = kNow - kDay},
      kNow);
  REQUIRE(old);
  auto valid = CheckValidity(old->info, kNow);
  REQUIRE_FALSE(valid);
  CHECK(valid.error().code == ErrorCode::kTls);
  CHECK_THAT(valid.error().message,
             Catch::Contains("expired at " + FormatRfc3339(old->info.not_after_ms)));
  auto future =
      MakeSelfSigned({.not_before_ms = kNow + kDay, .not_after_ms = kNow + 2 * kDay}, kNow);
  REQUIRE(future);
  CHECK_THAT(CheckValidity(future->info, kNow).error().message,
             Catch::Contains("not valid before"));

  const std::string cert = Write(dir, "cert.pem", old->cert_pem);
  const std::string key = Write(dir, "key.pem", old->key_pem);
  auto loaded = LoadCertificateAndKey(cert, key, kNow);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(loaded.error().message, Catch::Contains(cert) && Catch::Contains("expired"));
}

TEST_CASE("tls: a key that is not the certificate's is refused", "[tls]") {
  TempDir dir;
  auto a = MakeSelfSigned({.names = {"localhost"}}, kNow);
  auto b = MakeSelfSigned({.names = {"localhost"}}, kNow);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(CheckKeyMatches(a->cert_pem, a->key_pem));
  auto mismatch = CheckKeyMatches(a->cert_pem, b->key_pem);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().code == ErrorCode::kTls);
  CHECK(CheckKeyMatches("not pem", a->key_pem).error().code == ErrorCode::kBadData);

  const std::string cert = Write(dir, "cert.pem", a->cert_pem);
  const std::string key = Write(dir, "key.pem", b->key_pem);
  auto loaded = LoadCertificateAndKey(cert, key, kNow);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message, Catch::Contains(key) && Catch::Contains("not the one of"));

  // A key others can read is no longer secret: refused too.
  const std::string open_key = Write(dir, "open-key.pem", a->key_pem);
  ::chmod(open_key.c_str(), 0644);
  auto too_open = LoadCertificateAndKey(cert, open_key, kNow);
  REQUIRE_FALSE(too_open);
  CHECK_THAT(too_open.error().message, Catch::Contains("chmod 600"));
  ::chmod(open_key.c_str(), 0600);
  CHECK(LoadCertificateAndKey(cert, open_key, kNow));
}

TEST_CASE("tls: a name that is neither a host name nor an address is refused", "[tls]") {
  for (std::string bad : {"a,b", "host name", "DNS:x", "", "-.", "a..b", "x/y"}) {
    INFO(bad);
    auto r = MakeSelfSigned({.names = {"localhost", bad}}, kNow);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadRequest);
  }
  CHECK(MakeSelfSigned({.names = {"*.example.com", "10.0.0.1", "fe80::1"}}, kNow));
  auto names = DefaultServerNames({"ctl.example.com", "localhost"});
  CHECK(names.front() == "127.0.0.1");
  CHECK(std::count(names.begin(), names.end(), "localhost") == 1);
  CHECK(names.back() == "ctl.example.com");
}

TEST_CASE("tls: the self-signed certificate is made once, kept 0600 and reused", "[tls]") {
  TempDir dir;
  const std::string cert = dir / "tls-cert.pem", key = dir / "tls-key.pem";
  auto first = LoadOrMakeSelfSigned(cert, key, {.names = {"127.0.0.1"}}, kNow);
  REQUIRE(first);
  CHECK(first->made);
  CHECK(Mode(cert) == 0600);
  CHECK(Mode(key) == 0600);
  auto again = LoadOrMakeSelfSigned(cert, key, {.names = {"127.0.0.1", "new.example.com"}}, kNow);
  REQUIRE(again);
  CHECK_FALSE(again->made);
  CHECK(again->pair.info.fingerprint == first->pair.info.fingerprint);
  CHECK(again->missing_names == std::vector<std::string>{"new.example.com"});

  // Ten years on it has expired: a new one takes its place.
  auto later = LoadOrMakeSelfSigned(cert, key, {.names = {"127.0.0.1"}}, kNow + 4000 * kDay);
  REQUIRE(later);
  CHECK(later->made);
  CHECK(later->pair.info.fingerprint != first->pair.info.fingerprint);

  // A damaged key is not replaced silently: the user is told what to remove.
  const auto cert_before = ReadFile(cert).value();
  REQUIRE(WriteFileAtomic(key, "garbage", 0600));
  auto damaged = LoadOrMakeSelfSigned(cert, key, {.names = {"127.0.0.1"}}, kNow);
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().code == ErrorCode::kBadConfig);
  CHECK_THAT(damaged.error().message, Catch::Contains("remove " + cert));
  CHECK(ReadFile(cert).value() == cert_before);
}

TEST_CASE("tls: a CA directory signs server certificates OpenSSL verifies", "[tls]") {
  TempDir dir;
  const std::string certs = dir / "certs";
  auto first =
      MakeCertificateInDir({.dir = certs, .name = "api", .names = {"127.0.0.1", "ctl"}}, kNow);
  REQUIRE(first);
  CHECK(first->made_ca);
  CHECK(first->cert_path == certs + "/api.pem");
  CHECK(first->cert.issuer == first->ca.subject);
  CHECK_FALSE(first->cert.self_signed);
  for (auto f : {"ca.pem", "ca-key.pem", "api.pem", "api-key.pem"})
    CHECK(Mode(certs + "/" + f) == 0600);
  CHECK(Mode(certs) == 0700);
  CHECK_THAT(
      Openssl({"verify", "-CAfile", first->ca_path, "-verify_hostname", "ctl", first->cert_path}),
      Catch::Contains("OK"));

  // A second certificate is signed by the same CA.
  auto second = MakeCertificateInDir({.dir = certs, .name = "nats", .names = {"nats.local"}}, kNow);
  REQUIRE(second);
  CHECK_FALSE(second->made_ca);
  CHECK(second->ca.fingerprint == first->ca.fingerprint);
  CHECK_THAT(Openssl({"verify", "-CAfile", first->ca_path, second->cert_path}),
             Catch::Contains("OK"));

  // One that exists is not overwritten; bad input writes nothing.
  const auto before = ReadFile(first->cert_path).value();
  auto again = MakeCertificateInDir({.dir = certs, .name = "api", .names = {"x"}}, kNow);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kConflict);
  CHECK(ReadFile(first->cert_path).value() == before);
  CHECK_FALSE(MakeCertificateInDir({.dir = dir / "other", .name = "../x", .names = {"x"}}, kNow));
  CHECK_FALSE(
      MakeCertificateInDir({.dir = dir / "other", .name = "y", .names = {"bad name"}}, kNow));
  CHECK_FALSE(std::filesystem::exists(dir / "other"));
}

}  // namespace
}  // namespace autovibe
