#!/usr/bin/env bash
# The JSON Schemas of the contracts (docs/schemas/*.schema.json) are valid draft 2020-12
# schemas, and each sample in tests/fixtures/sink/envelopes.jsonl is accepted or refused
# by its schema exactly as the sample says (test_sink_msg checks the same samples
# against the sink's decoder and the job decoder). Needs python3-jsonschema; offline.
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 -c 'import jsonschema' 2>/dev/null ||
    { echo "FAIL: python3-jsonschema is not installed (deploy/local/packages.txt)" >&2; exit 1; }

python3 - "$root" <<'PY'
import json, sys, jsonschema
root = sys.argv[1]
schemas = {}
for name in ("record", "window-marker", "dead-letter", "job"):
    path = f"{root}/docs/schemas/{name}.schema.json"
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    jsonschema.Draft202012Validator.check_schema(s)
    schemas[name] = jsonschema.Draft202012Validator(s)
bad = checked = 0
seen = {n: [0, 0] for n in schemas}
with open(f"{root}/tests/fixtures/sink/envelopes.jsonl", encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        case = json.loads(line)
        errors = list(schemas[case["schema"]].iter_errors(case["value"]))
        checked += 1
        seen[case["schema"]][0 if case["schema_valid"] else 1] += 1
        if bool(errors) == case["schema_valid"]:
            bad += 1
            why = errors[0].message if errors else "accepted"
            print(f"FAIL line {lineno} {case['name']}: expected "
                  f"{'valid' if case['schema_valid'] else 'invalid'}, got: {why}", file=sys.stderr)
for name, (ok, ko) in seen.items():
    if ok == 0 or ko == 0:
        print(f"FAIL: {name} needs both valid and invalid samples ({ok}/{ko})", file=sys.stderr)
        bad += 1
print(f"{checked} samples checked against 4 schemas, {bad} failures")
sys.exit(1 if bad else 0)
PY
