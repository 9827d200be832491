// OpenSSL's random bytes drawn from the kernel's generator (getrandom(2)).
#pragma once

namespace autovibe {

// Makes RAND_bytes and every other use of randomness in OpenSSL, TLS included, read the
// kernel's generator instead of OpenSSL's own, which is seeded from it.
//
// Why: NATS.c asks OpenSSL for 12 random bytes when it starts (the prefix of its inbox names),
// and OpenSSL's own generator starts its provider machinery for that: about 1.7 MB of pages
// that then stay in the agent's memory, in a process that needs OpenSSL for nothing else
// until a task's first https call.
//
// Call once, before anything uses OpenSSL; not thread-safe. Returns false (and changes
// nothing) if OpenSSL refused the change.
bool UseKernelRandomInOpenSsl();

}  // namespace autovibe
