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
  curl python3 procps
  # reference host agent for ./scripts/bench.sh agent
  prometheus-node-exporter
)

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
# --no-install-recommends keeps the machine lean; node-exporter must not start a daemon.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
