#!/usr/bin/env bash
# Shared by the deploy tests: locate the tree and install deploy/validate's npm packages
# once (npm ci from the committed lockfile, only when node_modules does not match it).
# Source it; it sets WDTS_SOURCE_DIR and VALIDATE_DIR.

WDTS_SOURCE_DIR=${WDTS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VALIDATE_DIR=$WDTS_SOURCE_DIR/deploy/validate

deploy_fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# npm ci under a lock (tests run in parallel), skipped when node_modules was installed from
# the same package-lock.json (its sha256 is kept in node_modules/.wdts-lock.sha256).
deploy_npm_ci() {
    command -v node >/dev/null && command -v npm >/dev/null ||
        deploy_fail "node and npm are needed: apt-get install -y nodejs npm (deploy/local/packages.txt)"
    local want stamp=$VALIDATE_DIR/node_modules/.wdts-lock.sha256
    want=$(sha256sum "$VALIDATE_DIR/package-lock.json" | cut -d' ' -f1)
    (
        flock 9
        if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
            exit 0
        fi
        echo "npm ci in deploy/validate"
        (cd "$VALIDATE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
            deploy_fail "npm ci failed in deploy/validate (the npm registry must be reachable once)"
        echo "$want" >"$stamp"
    ) 9>"$VALIDATE_DIR/.npm-ci.lock"
}
