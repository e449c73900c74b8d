#!/usr/bin/env bash
# Installs every Debian 12 package Tessera needs to build, test and run. Idempotent: when all
# packages are already present it only checks and exits in well under a second.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git python3 clang-format clang-tidy
  # libraries
  libboost1.81-all-dev libprotobuf-dev protobuf-compiler libsqlite3-dev sqlite3
  libssl-dev libtss2-dev libp11-kit-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # hardware key stores: software TPM, PKCS#11 token
  swtpm swtpm-tools tpm2-tools softhsm2 opensc
  # misc tools used by tests and the demo
  procps iproute2 openssl faketime
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
