#!/usr/bin/env bash
# Installs the Debian 12 packages autovibe needs to build, test and run.
# Safe to run any number of times: apt-get skips what is already installed,
# and nothing is fetched when every package is present.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries (see DESIGN.md, "Dependencies")
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libnats-dev libprotobuf-dev protobuf-compiler
  libsqlite3-dev libssl-dev libzstd-dev
  libspdlog-dev libcli11-dev libtomlplusplus-dev
  catch2 libbenchmark-dev
  # servers the tests and the quickstart start by hand
  nats-server
  # tools the tests and scripts use
  curl python3 procps clang-format
)
# prometheus-node-exporter, the reference in ./scripts/bench.sh agent, is installed by that
# script: its package starts a daemon on 0.0.0.0:9100 on hosts with systemd.

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# --no-install-recommends keeps the machine lean.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
