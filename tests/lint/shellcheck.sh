#!/usr/bin/env bash
# Runs shellcheck on every shell script of the project.
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
mapfile -t scripts < <(git ls-files -- '*.sh' .ci/run)
[[ ${#scripts[@]} -gt 0 ]] || { echo "no scripts found"; exit 1; }
shellcheck -x -S warning "${scripts[@]}"
# A script with a #! line is run by its path (the README's commands are), so it must be
# executable in git, whatever the mode of a checkout.
not_exec=$(git ls-files -s -- '*.sh' '*.py' .ci/run | while read -r mode _ _ path; do
    [[ $mode == 100644 ]] && head -1 "$path" | grep -q '^#!' && echo "$path"
done || true)
if [[ -n "$not_exec" ]]; then
    echo "scripts with a #! line that git does not mark executable (git update-index --chmod=+x):"
    echo "$not_exec"
    exit 1
fi
echo "shellcheck: ${#scripts[@]} scripts clean, every script executable"
