#!/usr/bin/env bash
# live_check.sh CAPTURE_BROKER GOLDEN_TEST OUT_DIR: capture from the installed clients
# into a fresh OUT_DIR, then run the golden test over that capture.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$3"
bash "$here/capture.sh" "$1" "$3"
FJORD_GOLDEN_DIR="$3" "$2" --gtest_brief=1
