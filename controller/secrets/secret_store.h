// The controller's secrets: repository credentials and forge tokens that users hand over
// (`autovibe secret set`), kept for the controller's own use and never given back through the
// API.
//
// They live in one directory of the controller's data dir (`<data-dir>/secrets`, mode 0700),
// one file a secret (mode 0600) named after it, each written whole or not at all (a temp
// file, fsync, rename, fsync of the directory): a crash leaves the old value or the new one.
//
// Threads: not thread-safe; one thread at a time (the controller's owner thread). Every call
// touches the disk (a Put fsyncs, a few milliseconds); secrets change rarely, so this runs on
// the owner thread like the admin token's first write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "common/core/time.h"

namespace autovibe {

// The longest value a secret may have.
inline constexpr size_t kMaxSecretBytes = 64 << 10;
inline constexpr size_t kMaxSecretNameBytes = 64;

// What List says of a secret: never its value.
struct SecretInfo {
  std::string name;
  uint64_t size = 0;  // bytes of the value
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// What a Put did: the secret as it now is, and whether it is new.
struct SecretPut {
  SecretInfo info;
  bool created = false;
};

// kBadRequest unless `name` is 1-64 characters of [A-Za-z0-9._-] not starting with '.'.
Result<void> ValidateSecretName(std::string_view name);

class SecretStore {
 public:
  // Creates `dir` (mode 0700) when missing and makes an existing one 0700; removes what a
  // crash mid-Put left (temp files). `clock` gives the created and updated times and must
  // outlive the store. Errors: kIo when the directory cannot be made private.
  static Result<std::unique_ptr<SecretStore>> Open(std::string dir, const Clock& clock);

  // Sets `name` to `value`, creating it or replacing its value (its created time kept).
  // Errors, with nothing written: kBadRequest (a bad name), kTooLarge (over kMaxSecretBytes),
  // kIo (the disk refused; the old value, if any, stays).
  Result<SecretPut> Put(std::string_view name, std::string_view value);

  // The value of `name`, for the controller's own use (a fetch or push credential, a forge
  // token): never an API answer, a log line or an event. Errors: kBadRequest, kNotFound,
  // kCorrupt (a file that is not a secret of ours), kIo.
  Result<std::string> Get(std::string_view name) const;

  // Every secret by name, without values. Errors: kIo; files that are not secrets of ours are
  // left out.
  Result<std::vector<SecretInfo>> List() const;

  // Removes `name`. Errors: kBadRequest, kNotFound, kIo.
  Result<void> Delete(std::string_view name);

  const std::string& dir() const { return dir_; }

 private:
  SecretStore(std::string dir, const Clock& clock) : dir_(std::move(dir)), clock_(clock) {}
  std::string PathOf(std::string_view name) const;

  std::string dir_;
  const Clock& clock_;
};

}  // namespace autovibe
