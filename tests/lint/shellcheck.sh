#!/usr/bin/env bash
# Runs shellcheck on every shell script of the project.
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
mapfile -t scripts < <(git ls-files -- '*.sh' .ci/run)
[[ ${#scripts[@]} -gt 0 ]] || { echo "no scripts found"; exit 1; }
shellcheck -x -S warning "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
