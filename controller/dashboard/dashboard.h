// The web dashboard the controller serves on its HTTP port: its page at `/` and the assets the
// page names. They need no token (the sign-in page must load); every API call the page makes
// carries the token the user signed in with, and the API checks it as for any other client.
#pragma once

#include <optional>

#include "common/http/http.h"

namespace autovibe {

// The answer to a request for a dashboard file: `GET` or `HEAD` of `/`, `/index.html` or
// `/assets/NAME`; gzip-compressed when the client accepts it, with a strict
// Content-Security-Policy. Nothing for any other path (the caller answers those); 405 for
// another method on a dashboard path, 404 for an asset that does not exist.
std::optional<HttpResponse> ServeDashboard(const HttpRequest& req);

}  // namespace autovibe
