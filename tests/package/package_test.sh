#!/usr/bin/env bash
# The Debian packages as an administrator meets them (ctest "deploy: package"):
#   tests/package/package_test.sh BUILD_DIR
# 1. ./scripts/package.sh builds them from BUILD_DIR into a temp dir, and lintian passes them
#    (no error or warning; overrides in packaging/deb/ say why).
# 2. Their contents and control fields (dpkg-deb -c / -I): programs, units, conffiles, man
#    pages, dependencies; the agent's unit runs the packaged binary, its config parses and names
#    no machine.
# 3. Installed with the real dpkg into a throwaway root (dpkg --root: the maintainer scripts run
#    chrooted there, under busybox's sh) over a config written first (as cloud-init does; kept),
#    an agent that has registered (a machine id, a bus user and a checkpoint chunk in its data
#    dir, written by the test) and whose config was edited is upgraded twice: to a
#    version with the same config template, then to one with a new template (as apt does with
#    --force-confold). Its data dir, machine id and edited config stay, the new files land.
#    Removal keeps config and data; purge removes both; a fresh install sets the config
#    template. The controller's and the CLI's packages
#    install and purge too (the controller's database stays).
# Not checked here: dependency resolution (the throwaway root has no Debian in it, so
# --force-depends) and the systemd steps of the scripts (no systemd runs in the root; their
# daemon-reload and try-restart branches are skipped there, as on any host without systemd).
# The machine running the test is not touched: everything lives in a temp dir.
# Exits 77 (ctest: skipped) when not root (chroot needs it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR=$(realpath "${1:?usage: $0 BUILD_DIR}")
if [ "$(id -u)" -ne 0 ]; then
  echo "package test: needs root (dpkg --root chroots into its root); skipped" >&2
  exit 77
fi
for tool in dpkg dpkg-deb lintian busybox python3; do
  command -v "$tool" >/dev/null ||
    { echo "package test: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package test: FAILED: $*" >&2; exit 1; }
check() { # description, command...
  local what=$1; shift
  "$@" || fail "$what"
}
has_line() { grep -qxF -- "$2" "$1"; }  # file, exact line

# 1. Build and lint.
start=$SECONDS
BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/package.sh" --out "$tmp/debs" >"$tmp/package.log" 2>&1 ||
  { cat "$tmp/package.log" >&2; fail "scripts/package.sh (lintian's findings are above)"; }
echo "package.sh: $((SECONDS - start)) s"
agent=$(echo "$tmp"/debs/autovibe-agent_*.deb)
controller=$(echo "$tmp"/debs/autovibe-controller_*.deb)
cli=$(echo "$tmp"/debs/autovibe_*.deb)
for deb in "$agent" "$controller" "$cli"; do
  [ -f "$deb" ] || fail "no package $deb"
  echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"
done

# 2. Contents and control fields.
dpkg-deb -c "$agent" | awk '{print $1, $6}' >"$tmp/agent.list"
for entry in "-rwxr-xr-x ./usr/bin/autovibe-agent" \
  "-rw-r--r-- ./lib/systemd/system/autovibe-agent.service" \
  "-rw------- ./etc/autovibe/agent.toml" \
  "-rw-r--r-- ./usr/share/man/man8/autovibe-agent.8.gz" \
  "-rw-r--r-- ./usr/share/doc/autovibe-agent/copyright" \
  "-rw-r--r-- ./usr/share/doc/autovibe-agent/changelog.gz"; do
  check "the agent's package holds $entry" has_line "$tmp/agent.list" "$entry"
done
if grep -q "/opt/\|autovibe-controller\|/usr/bin/autovibe$" "$tmp/agent.list"; then
  fail "the agent's package holds files of another package or under /opt"
fi
dpkg-deb -f "$agent" Package Version Depends >"$tmp/agent.control"
check "Package: autovibe-agent" has_line "$tmp/agent.control" "Package: autovibe-agent"
grep -q "^Depends: .*bubblewrap.*libnats" "$tmp/agent.control" ||
  fail "the agent depends on bubblewrap and its shared libraries: $(cat "$tmp/agent.control")"
dpkg-deb -e "$agent" "$tmp/agent.ctl"
check "agent.toml is a conffile" has_line "$tmp/agent.ctl/conffiles" "/etc/autovibe/agent.toml"
dpkg-deb -x "$agent" "$tmp/agent.x"
check "the unit runs the packaged agent" grep -qx \
  "ExecStart=/usr/bin/autovibe-agent --config /etc/autovibe/agent.toml" \
  "$tmp/agent.x/lib/systemd/system/autovibe-agent.service"
python3 - "$tmp/agent.x/etc/autovibe/agent.toml" <<'PY' || fail "the agent's config template"
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
# Every worker installing the package takes its host name, not a shared one.
assert "name" not in c, c
assert c["data_dir"] == "/var/lib/autovibe/agent", c
assert not c.get("labels"), c
PY
zcat "$tmp/agent.x/usr/share/man/man8/autovibe-agent.8.gz" | grep -qF -- "join\\-token" ||
  fail "the man page documents the agent's options"
dpkg-deb -c "$controller" | awk '{print $6}' >"$tmp/controller.list"
for path in ./usr/bin/autovibe-controller ./lib/systemd/system/autovibe-controller.service \
  ./etc/autovibe/controller.toml ./usr/share/autovibe/templates/cloud-init/agent.yaml \
  ./usr/share/autovibe/templates/tools/claude-code/package-lock.json \
  ./usr/share/man/man8/autovibe-controller.8.gz; do
  check "the controller's package holds $path" has_line "$tmp/controller.list" "$path"
done
dpkg-deb -c "$cli" | awk '{print $6}' >"$tmp/cli.list"
check "the CLI's package holds autovibe" has_line "$tmp/cli.list" "./usr/bin/autovibe"

# 3. Install, upgrade, remove, purge in a throwaway root.
root=$tmp/root
mkdir -p "$root"/{bin,usr/bin,tmp,var/lib/dpkg/info,var/lib/dpkg/updates,var/lib/dpkg/triggers}
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
dpkg_root() { dpkg --root="$root" --force-depends --force-not-root "$@" </dev/null; }
state() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status} ${Version}' "$1" 2>/dev/null || true; }

# A later version of the agent's package: its unit gains a line; with --new-config its config
# template too.
repack() { # out, version, [--new-config]
  local dir=$tmp/repack-$2
  rm -rf "$dir"
  dpkg-deb -R "$agent" "$dir"
  sed -i "s/^Version: .*/Version: $2/" "$dir/DEBIAN/control"
  echo "# version $2" >>"$dir/lib/systemd/system/autovibe-agent.service"
  if [ "${3:-}" = --new-config ]; then echo "# new in $2" >>"$dir/etc/autovibe/agent.toml"; fi
  (cd "$dir" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | xargs -0 md5sum) \
    >"$dir/DEBIAN/md5sums"
  dpkg-deb -b --root-owner-group "$dir" "$1" >/dev/null
}

version=$(dpkg-deb -f "$agent" Version)
# As cloud-init installs it: the machine's config is written first, and apt keeps it.
mkdir -p "$root/etc/autovibe"
printf 'nats = "nats://10.0.0.9:4222"\njoin_token = "j-0123456789ab.00ff"\n' \
  >"$root/etc/autovibe/agent.toml"
chmod 600 "$root/etc/autovibe/agent.toml"
dpkg_root --force-confdef --force-confold -i "$agent" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; fail "dpkg -i"; }
grep -qx 'join_token = "j-0123456789ab.00ff"' "$root/etc/autovibe/agent.toml" ||
  fail "the install keeps the config cloud-init wrote"
[ "$(state autovibe-agent)" = "install ok installed $version" ] ||
  fail "installed: $(state autovibe-agent)"
data=$root/var/lib/autovibe/agent
[ "$(stat -c %a "$data")" = 700 ] || fail "postinst makes the data dir, mode 0700"
[ "$(stat -c %a "$root/etc/autovibe/agent.toml")" = 600 ] || fail "the config is root's only"
"$root/usr/bin/autovibe-agent" --version | grep -qxF "$version" ||
  fail "the installed agent runs and says its version"

# What an agent that ran leaves, and an administrator's edit of the config.
echo -n "m-0123456789ab" >"$data/machine_id"
printf 'user = "m-0123456789ab"\n' >"$data/bus-user.toml"
mkdir -p "$data/checkpoints/chunks/ab"
echo "chunk" >"$data/checkpoints/chunks/ab/cdef"
sed -i 's|^nats = .*|nats = "nats://10.1.2.3:4222"|' "$root/etc/autovibe/agent.toml"
sums() { (cd "$data" && find . -type f | sort | xargs md5sum); }
before=$(sums)

repack "$tmp/agent-2.deb" "$version+2"
dpkg_root -i "$tmp/agent-2.deb" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; fail "the upgrade"; }
[ "$(state autovibe-agent)" = "install ok installed $version+2" ] ||
  fail "upgraded: $(state autovibe-agent)"
grep -qx "# version $version+2" "$root/lib/systemd/system/autovibe-agent.service" ||
  fail "the upgrade installs the new unit"
[ "$(sums)" = "$before" ] || fail "the upgrade keeps the data dir as it was"
[ "$(cat "$data/machine_id")" = m-0123456789ab ] || fail "the upgrade keeps the machine id"
grep -qx 'nats = "nats://10.1.2.3:4222"' "$root/etc/autovibe/agent.toml" ||
  fail "the upgrade keeps the edited config"

# A new config template: the edited config stays, the new one is set beside it.
repack "$tmp/agent-3.deb" "$version+3" --new-config
dpkg_root --force-confdef --force-confold -i "$tmp/agent-3.deb" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; fail "the upgrade with a new config template"; }
grep -qx 'nats = "nats://10.1.2.3:4222"' "$root/etc/autovibe/agent.toml" ||
  fail "an upgrade with a new config template keeps the edited config"
grep -qx "# new in $version+3" "$root/etc/autovibe/agent.toml.dpkg-dist" ||
  fail "the new config template is set beside it"
[ "$(sums)" = "$before" ] || fail "the second upgrade keeps the data dir"

dpkg_root -r autovibe-agent >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r"; }
[ ! -e "$root/usr/bin/autovibe-agent" ] || fail "removal removes the agent"
[ -f "$root/etc/autovibe/agent.toml" ] && [ "$(sums)" = "$before" ] ||
  fail "removal keeps the config and the data"
dpkg_root -P autovibe-agent >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P"; }
[ ! -e "$root/etc/autovibe/agent.toml" ] && [ ! -e "$data" ] ||
  fail "purge removes the config and the data dir"
# Installed afresh, it sets its config template.
dpkg_root -i "$agent" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i afresh"; }
cmp -s "$root/etc/autovibe/agent.toml" "$tmp/agent.x/etc/autovibe/agent.toml" ||
  fail "a fresh install sets the config template"
dpkg_root -P autovibe-agent >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P"; }

dpkg_root -i "$controller" "$cli" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; fail "dpkg -i of the controller and the CLI"; }
[ "$(stat -c %a "$root/var/lib/autovibe/controller")" = 700 ] ||
  fail "postinst makes the controller's data dir"
[ -f "$root/usr/share/autovibe/templates/cloud-init/agent.yaml" ] ||
  fail "the controller's templates are where it looks for them"
"$root/usr/bin/autovibe" --version | grep -qxF "$version" || fail "the installed CLI runs"
echo "db" >"$root/var/lib/autovibe/controller/controller.db"
dpkg_root -P autovibe-controller autovibe >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; fail "dpkg -P of the controller and the CLI"; }
[ -f "$root/var/lib/autovibe/controller/controller.db" ] || fail "purge keeps the controller's database"
[ ! -e "$root/usr/bin/autovibe-controller" ] && [ ! -e "$root/etc/autovibe/controller.toml" ] ||
  fail "purge removes the controller and its config"
echo "package test: passed"
