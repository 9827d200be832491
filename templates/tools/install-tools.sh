#!/bin/sh
# Installs the coding tools a worker runs, each pinned by the package-lock.json beside this
# script (templates/tools/TOOL/), and links their commands onto PATH:
#   install-tools.sh [--prefix DIR] [--bin DIR] TOOL...
# TOOL is a tool as tasks name it: git, node, claude-code, codex (shell and aider are accepted:
# shell needs nothing, aider cannot be installed from the registries autovibe uses, so it is
# reported and skipped). git and Node come from Debian (apt) when missing; claude-code and codex
# from npm with `npm ci` into PREFIX/TOOL (default /usr/local/lib/autovibe-tools), linked into
# BIN (default /usr/local/bin). Run by scripts/install-deps.sh and by cloud-init
# (templates/cloud-init/agent.yaml). Idempotent: a tool installed from the same lockfile is left
# alone, so a second run costs a few file comparisons.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local/lib/autovibe-tools
bindir=/usr/local/bin
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --bin) bindir=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "usage: $0 [--prefix DIR] [--bin DIR] TOOL..." >&2; exit 2 ;;
    *) break ;;
  esac
done

say() { echo "install-tools: $*"; }

apt_updated=""
apt_install() { # package...
  if [ -z "$apt_updated" ]; then
    apt-get update -q >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

need_git() {
  if command -v git >/dev/null 2>&1; then return 0; fi
  say "installing git (apt)"
  apt_install git
}

# Node from Debian where there is none at all (a newer Node already installed is kept).
need_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then return 0; fi
  say "installing Node (apt: nodejs npm)"
  apt_install nodejs npm
}

# npm_tool TOOL BINARY: npm ci of templates/tools/TOOL into PREFIX/TOOL, BINARY linked into BIN.
npm_tool() {
  tool=$1 binary=$2 src="$here/$1" dest="$prefix/$1"
  [ -f "$src/package-lock.json" ] || { say "no lockfile for $tool in $src" >&2; return 1; }
  target="$dest/node_modules/.bin/$binary"
  pinned=$(sed -n 's/.*"\(@[^"]*\)": "\([^"]*\)".*/\1@\2/p' "$src/package.json" | head -n 1)
  if cmp -s "$src/package-lock.json" "$dest/package-lock.json" && [ -x "$target" ]; then
    say "$tool present ($pinned)"
  else
    need_node
    say "installing $tool ($pinned: npm ci of $src/package-lock.json)"
    mkdir -p "$prefix"
    # Installed beside the old copy and swapped in: a failed install leaves the old one working.
    rm -rf "$dest.new" "$dest.old"
    mkdir "$dest.new"
    cp "$src/package.json" "$src/package-lock.json" "$dest.new/"
    (cd "$dest.new" && npm ci --omit=dev --prefer-offline --no-fund --no-audit --loglevel=error) ||
      {
        rm -rf "$dest.new"
        say "npm ci of $tool failed" >&2
        return 1
      }
    [ ! -e "$dest" ] || mv "$dest" "$dest.old"
    mv "$dest.new" "$dest"
    rm -rf "$dest.old"
  fi
  real=$(readlink -f "$target")
  [ "$(readlink -f "$bindir/$binary" 2>/dev/null)" != "$real" ] || return 0
  mkdir -p "$bindir"
  # The real file, not npm's .bin link: the agent looks for an executable regular file.
  ln -sfn "$real" "$bindir/$binary"
  "$bindir/$binary" --version >/dev/null 2>&1 || {
    say "$tool was installed but $bindir/$binary --version fails" >&2
    return 1
  }
}

status=0
for tool in "$@"; do
  case "$tool" in
    git) need_git || status=1 ;;
    node) need_node || status=1 ;;
    claude-code) npm_tool claude-code claude || status=1 ;;
    codex) npm_tool codex codex || status=1 ;;
    shell) ;;
    aider) say "aider cannot be installed from the registries autovibe uses; skipped" >&2 ;;
    *) say "unknown tool $tool (git, node, claude-code, codex, aider, shell)" >&2; status=1 ;;
  esac
done
exit $status
