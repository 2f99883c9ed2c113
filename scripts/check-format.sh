#!/usr/bin/env bash
# Fails when a tracked C++ file is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null || true)
if ((${#files[@]} == 0)); then
  echo "check-format: no files"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not formatted (run: clang-format -i $f)"
    bad=1
  fi
done
[[ $bad -eq 0 ]] && echo "check-format: ${#files[@]} files formatted"
exit $bad
