#include "worker-agent/snapshot/tree.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace autovibe::snapshot {
namespace {

Error Hostile(const std::string& path, const std::string& why) {
  return MakeError(ErrorCode::kHostileManifest,
                   "checkpoint refused: " + ShortPath(path) + ": " + why);
}

bool PlainName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameBytes && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

bool LinkTarget(std::string_view target) {
  return !target.empty() && target.size() <= kMaxTargetBytes &&
         target.find('\0') == std::string_view::npos;
}

Result<v1::Tree> ParseTree(const ChunkStore& store, const Hash& hash) {
  auto bytes = store.Get(hash);
  if (!bytes) return bytes.error();
  v1::Tree tree;
  if (!tree.ParseFromString(*bytes)) {
    return MakeError(ErrorCode::kCorrupt, "tree " + hash.hex() + " does not parse");
  }
  return tree;
}

// One directory on the way down: its subdirectories (name, tree hash), the next to visit.
struct Frame {
  std::vector<std::pair<std::string, std::string>> dirs;
  size_t next = 0;
  size_t parent_len = 0;  // the path's length without this directory
};

Frame FrameOf(const v1::Tree& tree, size_t parent_len) {
  Frame f;
  f.parent_len = parent_len;
  for (const auto& e : tree.entries()) {
    if (e.kind() == v1::TreeEntry::DIRECTORY) f.dirs.emplace_back(e.name(), e.tree());
  }
  return f;
}

}  // namespace

Result<v1::Tree> LoadTree(const ChunkStore& store, std::string_view hash, const std::string& path) {
  auto h = HashFromBytes(hash);
  if (!h) return Hostile(path, "a directory without a well-formed tree hash");
  auto bytes = store.Get(*h);
  if (!bytes) {
    return MakeError(bytes.error().code,
                     "directory " + ShortPath(path) + ": " + bytes.error().message);
  }
  v1::Tree tree;
  if (!tree.ParseFromString(*bytes)) return Hostile(path, "its tree does not parse");
  std::string_view previous;
  for (const auto& e : tree.entries()) {
    if (!PlainName(e.name())) {
      return Hostile(path, "a name that is not one plain component");
    }
    if (!previous.empty() && e.name() <= previous) {
      return Hostile(JoinPath(path, e.name()), "names not sorted, or one twice");
    }
    previous = e.name();
    switch (e.kind()) {
      case v1::TreeEntry::FILE:
        for (const auto& c : e.chunks()) {
          if (c.hash().size() != 32) {
            return Hostile(JoinPath(path, e.name()), "a chunk without a well-formed hash");
          }
        }
        break;
      case v1::TreeEntry::DIRECTORY:
        if (e.tree().size() != 32) {
          return Hostile(JoinPath(path, e.name()), "a directory without a tree hash");
        }
        break;
      case v1::TreeEntry::SYMLINK:
        if (!LinkTarget(e.target())) {
          return Hostile(JoinPath(path, e.name()),
                         "a symbolic link whose target is empty, holds NUL or is too long");
        }
        break;
      default:
        return Hostile(JoinPath(path, e.name()), "an entry of unknown kind");
    }
  }
  return tree;
}

Result<void> WalkTrees(const ChunkStore& store, std::string_view root, const TreeWalk& walk) {
  std::string path;
  std::vector<Frame> frames;
  // Reads and visits the tree `hash` at `path`, depth `depth`; then walks into it.
  auto open = [&](std::string_view hash, int depth, size_t parent_len) -> Result<void> {
    auto h = HashFromBytes(hash);
    if (!h && walk.check == TreeCheck::kParsed) return {};  // names nothing to read
    if (h && walk.enter && !walk.enter(*h)) return {};
    auto tree =
        walk.check == TreeCheck::kJudged ? LoadTree(store, hash, path) : ParseTree(store, *h);
    if (!tree) {
      if (!walk.unreadable || tree.error().code == ErrorCode::kHostileManifest) {
        return tree.error();
      }
      walk.unreadable(tree.error());
      return {};
    }
    if (auto r = walk.visit(*tree, path, depth); !r) return r;
    frames.push_back(FrameOf(*tree, parent_len));
    return {};
  };
  if (auto r = open(root, 0, 0); !r) return r;
  if (frames.empty()) return {};
  // The path always names the directory of the frame on top (and, while one opens, the child).
  while (!frames.empty()) {
    Frame& top = frames.back();
    if (top.next == top.dirs.size()) {
      path.resize(top.parent_len);
      frames.pop_back();
      continue;
    }
    const auto& [name, hash] = top.dirs[top.next++];
    const int depth = static_cast<int>(frames.size());
    const size_t len = path.size();
    if (!path.empty()) path += '/';
    path += name;
    if (depth > kMaxDepth) return TooDeep(path);
    if (path.size() > kMaxPathBytes) return TooLong(path);
    // `top` may move as a frame is pushed: `name` and `hash` are read before that.
    std::string child_hash = hash;
    if (auto r = open(child_hash, depth, len); !r) return r;
    if (frames.size() == static_cast<size_t>(depth)) path.resize(len);  // not walked into
  }
  return {};
}

}  // namespace autovibe::snapshot
