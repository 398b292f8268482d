#!/usr/bin/env python3
"""Checks messages against a wdtsync contract schema (this directory), offline.

    python3 docs/schemas/validate.py record < values.jsonl
    python3 docs/schemas/validate.py window-marker markers.jsonl

Each input line is one message value (a JSON object). Prints one line per invalid message
(line number and the first problems) and a summary; exits 1 when any is invalid or the input
is empty. Needs python3-jsonschema (Debian package).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("validate.py: python3-jsonschema is not installed (apt-get install python3-jsonschema)")

NAMES = ("record", "window-marker", "dead-letter", "job")


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in NAMES:
        sys.exit(f"usage: validate.py {{{'|'.join(NAMES)}}} [FILE]  (lines of JSON; stdin by default)")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, f"{argv[1]}.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    try:
        src = open(argv[2], encoding="utf-8") if len(argv) == 3 else sys.stdin
    except OSError as e:
        sys.exit(f"validate.py: cannot read {argv[2]}: {e.strerror}")
    total = bad = 0
    for lineno, line in enumerate(src, 1):
        if not line.strip():
            continue
        total += 1
        try:
            value = json.loads(line)
        except ValueError as e:
            bad += 1
            print(f"line {lineno}: not JSON: {e}")
            continue
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            bad += 1
            what = "; ".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors[:3])
            print(f"line {lineno}: {what}")
    print(f"{total} messages, {bad} invalid against {argv[1]}.schema.json")
    return 1 if bad or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
