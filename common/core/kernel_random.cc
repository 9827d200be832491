#include "common/core/kernel_random.h"

#include <openssl/rand.h>
#include <sys/random.h>

#include <cerrno>
#include <cstddef>

namespace autovibe {
namespace {

int KernelBytes(unsigned char* out, int n) {
  size_t got = 0;
  while (got < static_cast<size_t>(n)) {
    // Blocks only until the kernel's generator is first seeded, early at boot.
    ssize_t r = ::getrandom(out + got, static_cast<size_t>(n) - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 0;
    got += static_cast<size_t>(r);
  }
  return 1;
}

// The kernel mixes in its own entropy: what a caller offers adds nothing.
int IgnoreSeed(const void*, int) { return 1; }
int IgnoreAdd(const void*, int, double) { return 1; }
int Ready() { return 1; }

}  // namespace

bool UseKernelRandomInOpenSsl() {
  // RAND_METHOD is deprecated since OpenSSL 3.0 in favour of providers, but still honoured by
  // RAND_bytes, RAND_priv_bytes and their _ex forms; a provider of our own would need the
  // provider machinery this avoids.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  static const RAND_METHOD kKernel = {
      .seed = IgnoreSeed,
      .bytes = KernelBytes,
      .cleanup = nullptr,
      .add = IgnoreAdd,
      .pseudorand = KernelBytes,
      .status = Ready,
  };
  return RAND_set_rand_method(&kKernel) == 1;
#pragma GCC diagnostic pop
}

}  // namespace autovibe
