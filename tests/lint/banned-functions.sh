#!/usr/bin/env bash
# Fails when C sources use functions our style bans (unbounded copies, silent
# number parsing, non-reentrant tokenizing): use snprintf, wdts_strlcpy,
# wdts_parse_int and strtok_r / explicit parsing instead.
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
pattern='\b(strcpy|strncpy|strcat|sprintf|vsprintf|atoi|atol|gets|strtok)[[:space:]]*\('
if hits=$(git ls-files -- '*.c' '*.h' 2>/dev/null | xargs -r grep -nE "$pattern" | grep -vE '^\S+:[0-9]+:\s*(\*|/\*)'); then
    echo "banned functions used (see STYLE: use snprintf, wdts_strlcpy, wdts_parse_int):"
    echo "$hits"
    exit 1
fi
echo "no banned functions"
