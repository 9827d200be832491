#include "controller/dashboard/dashboard.h"

#include <string_view>

#include "controller/dashboard/dashboard_files.h"

namespace autovibe {
namespace {

// Scripts, styles, images and API calls from the controller itself only: no inline script, no
// remote origin, no framing.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

bool AcceptsGzip(const HttpRequest& req) {
  // "gzip" among the codings, unless refused with q=0 (browsers never do).
  std::string_view accept = HeaderValue(req, "accept-encoding");
  const size_t at = accept.find("gzip");
  if (at == std::string_view::npos) return false;
  std::string_view rest = accept.substr(at + 4);
  rest = rest.substr(0, rest.find(','));
  const size_t q = rest.find("q=");
  if (q == std::string_view::npos) return true;
  // q=0, q=0.0, q=0.000: refused; any other weight accepts it.
  std::string_view weight = rest.substr(q + 2);
  weight = weight.substr(0, weight.find_first_of(" ;"));
  return weight.find_first_not_of("0.") != std::string_view::npos;
}

const DashboardFile* Find(std::string_view path) {
  if (path == "/index.html") path = "/";
  for (const DashboardFile& f : DashboardFiles()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

HttpResponse FileResponse(const HttpRequest& req, const DashboardFile& f) {
  HttpResponse r;
  r.content_type = std::string(f.content_type);
  const bool gzip = AcceptsGzip(req);
  r.body = std::string(gzip ? f.gzip : f.body);
  if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  // The page is asked for afresh each time (it names the current assets); the assets, whose
  // names carry their hash, are kept for a year.
  r.headers.emplace_back("Cache-Control",
                         f.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

}  // namespace

std::optional<HttpResponse> ServeDashboard(const HttpRequest& req) {
  const std::string_view path = req.path;
  const bool page = path == "/" || path == "/index.html";
  if (!page && !path.starts_with("/assets/")) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r =
        JsonError(405, "method_not_allowed", "the dashboard's files are read with GET");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const DashboardFile* f = Find(path);
  if (f == nullptr) return JsonError(404, "not_found", "no such dashboard file");
  return FileResponse(req, *f);
}

}  // namespace autovibe
