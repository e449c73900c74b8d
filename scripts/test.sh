#!/usr/bin/env bash
# Builds Tessera and runs every test. Installs what it needs first (Debian 12 packages).
# Usage: scripts/test.sh [PRESET] [extra ctest args...]
#   PRESET: ci (default: warnings are errors), dev, asan (ASan+UBSan) or tsan.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-ci}"
shift || true

scripts/install-deps.sh
scripts/check-format.sh
python3 scripts/check_layering.py

jobs="$(nproc)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" "$@"
