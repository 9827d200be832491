#include "worker-agent/snapshot/tree.h"

#include <algorithm>

namespace autovibe::snapshot {
namespace {

Error Hostile(const std::string& path, const std::string& why) {
  return MakeError(ErrorCode::kHostileManifest,
                   "checkpoint refused: " + (path.empty() ? std::string(".") : path) + ": " + why);
}

bool PlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

int Depth(const std::string& path) {
  return path.empty() ? 0 : static_cast<int>(std::count(path.begin(), path.end(), '/')) + 1;
}

}  // namespace

bool TargetStaysInside(std::string_view target, int dir_depth) {
  if (target.empty() || target.front() == '/') return false;
  if (target.find('\0') != std::string_view::npos) return false;
  int depth = dir_depth;
  while (!target.empty()) {
    size_t slash = target.find('/');
    std::string_view part = target.substr(0, slash);
    target = slash == std::string_view::npos ? std::string_view() : target.substr(slash + 1);
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
  }
  return true;
}

Result<v1::Tree> LoadTree(const ChunkStore& store, std::string_view hash, const std::string& path) {
  auto h = HashFromBytes(hash);
  if (!h) return Hostile(path, "a directory without a well-formed tree hash");
  auto bytes = store.Get(*h);
  if (!bytes) {
    return MakeError(bytes.error().code,
                     "directory " + (path.empty() ? "." : path) + ": " + bytes.error().message);
  }
  v1::Tree tree;
  if (!tree.ParseFromString(*bytes)) return Hostile(path, "its tree does not parse");
  const int depth = Depth(path);
  std::string_view previous;
  for (const auto& e : tree.entries()) {
    std::string child = JoinPath(path, e.name());
    if (!PlainName(e.name())) return Hostile(child, "a name that is not one plain component");
    if (!previous.empty() && e.name() <= previous) {
      return Hostile(child, "names not sorted, or one twice");
    }
    previous = e.name();
    switch (e.kind()) {
      case v1::TreeEntry::FILE:
        for (const auto& c : e.chunks()) {
          if (c.hash().size() != 32) return Hostile(child, "a chunk without a well-formed hash");
        }
        break;
      case v1::TreeEntry::DIRECTORY:
        if (e.tree().size() != 32) return Hostile(child, "a directory without a tree hash");
        break;
      case v1::TreeEntry::SYMLINK:
        if (!TargetStaysInside(e.target(), depth)) {
          return Hostile(child,
                         "a symbolic link that leads outside the workspace (" + e.target() + ")");
        }
        break;
      default:
        return Hostile(child, "an entry of unknown kind");
    }
  }
  return tree;
}

}  // namespace autovibe::snapshot
