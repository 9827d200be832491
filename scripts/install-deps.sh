#!/usr/bin/env bash
# Installs the Debian 12 packages autovibe needs to build, test, package and run, and the coding
# tools from npm (Claude Code, Codex), pinned by the lockfiles in templates/tools/. Safe to run
# any number of times: nothing is fetched when everything is present.
set -euo pipefail

PACKAGES=(
  # toolchain (ccache: rebuilds of unchanged files cost nothing)
  build-essential cmake ninja-build pkg-config git ccache
  # libraries (see DESIGN.md, "Dependencies")
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libnats-dev libprotobuf-dev protobuf-compiler
  libsqlite3-dev libssl-dev libzstd-dev libarchive-dev
  libspdlog-dev libcli11-dev libtomlplusplus-dev libssh2-1-dev libvirt-dev
  catch2 libbenchmark-dev
  # servers the tests and the quickstart start by hand
  nats-server
  # the agent boxes each task with it (README.md, "Security")
  bubblewrap
  # the docker backend: dockerd started by hand (tests), busybox for the agent's image
  docker.io busybox-static
  # the libvirt backend: qcow2 overlays and cloud-init seeds; the tests' real VMs run under a
  # libvirtd started by hand (KVM where /dev/kvm exists, else qemu's emulator), booting a
  # Debian kernel with the agent in its initrd
  qemu-utils genisoimage libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
  linux-image-amd64 kmod cpio e2fsprogs
  # the Debian guest of the real-VM test (scripts/build-debian-image.sh)
  mmdebstrap
  # checks of the deployment files: cloud-init's schema (it is disabled on this host below),
  # packer validate
  cloud-init packer
  # promtool checks templates/prometheus/ (apt starts no daemon here: policy-rc.d below; on a
  # host with systemd, `systemctl disable --now prometheus` if you run none)
  prometheus
  # the ssh backend's tests adopt this machine through an sshd on a loopback port
  openssh-server
  # tools the tests and scripts use
  curl python3 procps clang-format openssl
  # the dashboard's browser tests and ./scripts/bench.sh dashboard (headless, with
  # playwright-core from npm below)
  chromium
  # ./scripts/fuzz.sh: libFuzzer with clang 14's sanitizers (tests/fuzz/)
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  # references of ./scripts/bench.sh checkpoint
  restic
  # ./scripts/package.sh: the .deb's dependencies (dpkg-shlibdeps, in dpkg-dev), its man pages,
  # and Debian's checks of it
  dpkg-dev help2man lintian
)
# prometheus-node-exporter, the reference in ./scripts/bench.sh agent, is installed by that
# script: its package starts a daemon on 0.0.0.0:9100 on hosts with systemd.

# Coding tools come from npm (the Claude Code CLI ships a native binary inside its package);
# Debian's nodejs and npm are installed only where no node is present at all.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # Packages such as docker.io and openssh-server start their daemons when installed; the
  # tests start their own on loopback, so none is started here (policy-rc.d says no while
  # apt runs, unless the machine has a policy of its own).
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  # --no-install-recommends keeps the machine lean.
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ -n "$policy" ]; then $SUDO rm -f "$policy"; trap - EXIT; fi
  # Nor at the next boot: they were installed for the tests, not to serve.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
      case "$p" in
        docker.io) $SUDO systemctl disable --now docker.service docker.socket containerd.service \
          >/dev/null 2>&1 || true ;;
        openssh-server) $SUDO systemctl disable --now ssh.service >/dev/null 2>&1 || true ;;
      esac
    done
  fi
fi

# libvirt's qemu driver runs VMs as the libvirt-qemu user, which only the daemon's system
# package (not installed here: it starts and enables daemons) creates. Machines' disks live in
# the controller's data dir, so where there is no qemu.conf yet VMs run as root.
if [ -x /usr/sbin/libvirtd ]; then
  getent group libvirt-qemu >/dev/null || $SUDO groupadd --system libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    $SUDO useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
      --shell /usr/sbin/nologin libvirt-qemu
  if [ ! -e /etc/libvirt/qemu.conf ]; then
    $SUDO mkdir -p /etc/libvirt
    printf '# Written by autovibe scripts/install-deps.sh\nuser = "root"\ngroup = "root"\n' |
      $SUDO tee /etc/libvirt/qemu.conf >/dev/null
  fi
fi

# cloud-init is here for its schema check, not to configure this host at its next boot.
if [ -d /etc/cloud ] && [ ! -e /etc/cloud/cloud-init.disabled ] && [ ! -e /var/lib/cloud/instance ]; then
  $SUDO touch /etc/cloud/cloud-init.disabled
fi

# The coding tools workers run: git (above), and from npm the Claude Code CLI (what
# tests/integration/claude_code_*_test.cc run for real) and the Codex CLI, each pinned by its
# lockfile in templates/tools/ and linked into /usr/local/bin. The same script installs them on
# provisioned workers (cloud-init) and in the docker agent image.
$SUDO "$(dirname "$0")/../templates/tools/install-tools.sh" git node claude-code codex

# The dashboard's libraries and build tool (Preact, htm, uPlot, esbuild) and playwright-core for
# its browser tests, pinned by controller/dashboard/web/package-lock.json: `npm ci` into
# controller/dashboard/web/node_modules, where the build (controller/dashboard/dashboard.cmake)
# and the tests find them. Skipped when that lockfile is the one installed.
web="$(cd "$(dirname "$0")/../controller/dashboard/web" && pwd)"
if cmp -s "$web/package-lock.json" "$web/node_modules/.autovibe-installed-lock.json"; then
  echo "install-deps: dashboard packages present"
else
  echo "install-deps: installing the dashboard's packages (npm ci of $web/package-lock.json)"
  (cd "$web" && npm ci --prefer-offline --no-fund --no-audit --loglevel=error)
  cp "$web/package-lock.json" "$web/node_modules/.autovibe-installed-lock.json"
fi
