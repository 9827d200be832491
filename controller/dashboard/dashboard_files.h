// The dashboard's files, embedded in the controller. The definition is generated at build time
// (web/build.mjs: esbuild's bundle, gzip-compressed), so the installed controller serves the
// dashboard with nothing else installed.
#pragma once

#include <span>
#include <string_view>

namespace autovibe {

struct DashboardFile {
  std::string_view path;          // "/" for the page, else "/assets/NAME-HASH.EXT"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;          // as is
  std::string_view gzip;          // the same, gzip-compressed
  // Its name carries a hash of its content: it never changes under that name.
  bool immutable = false;
};

// Every file, the page first. Static storage: valid for the life of the program.
std::span<const DashboardFile> DashboardFiles();

}  // namespace autovibe
