// TLS for NATS.c connections (private to common/bus): the options a connection gets from a
// BusTls, and what a failed connect means in words a user can act on.
#pragma once

#include <nats/nats.h>

#include <string>
#include <string_view>

#include "common/bus/bus.h"

namespace autovibe {

// Whether a connection to `url` with `tls` asks for TLS itself: a tls:// URL or a TLS file.
bool WantsTls(std::string_view url, const BusTls& tls);

// Sets up TLS on `opts` when WantsTls: secure mode, the CA the server's certificate must chain
// to (the file or PEM given, besides the system's CAs, which NATS.c always trusts), and the
// client certificate for mutual TLS. Errors: bad_config (a file that cannot be read or holds no
// certificate or key; a certificate without its key or a key without its certificate).
Result<void> ApplyTls(natsOptions* opts, std::string_view url, const BusTls& tls);

// The error of a failed connect to `url` (`what` says which: "connect to ...", "log in to
// ..."): tls for a handshake refused, in words (not signed by the CA given, expired, another
// host's, TLS not offered or required, a client certificate wanted), unauthorized for a refused
// login, timeout, else unavailable. `detail` is NATS.c's last error text for the failure
// (nats_GetLastError).
Error ConnectError(std::string_view what, std::string_view url, natsStatus s,
                   std::string_view detail, const BusTls& tls);

// NATS.c's last error text on this thread, without its "(file.c:123): " prefix; "" if none.
std::string LastNatsError();

}  // namespace autovibe
