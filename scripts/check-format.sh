#!/usr/bin/env bash
# Fails (exit 1) when any tracked C/C++/proto file differs from what clang-format produces.
# Usage: scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(--dry-run --Werror)
if [ "${1:-}" = "--fix" ]; then mode=(-i); fi
mapfile -t files < <(git ls-files --cached --others --exclude-standard \
  '*.h' '*.hpp' '*.cc' '*.cpp' '*.c' '*.proto' | grep -v -e '/generated/' -e '\.pb\.' -e '^node_modules/' || true)
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
if [ ${#existing[@]} -eq 0 ]; then exit 0; fi
if ! clang-format "${mode[@]}" "${existing[@]}"; then
  echo "check-format: files above are not clang-formatted; run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#existing[@]} files ok"
