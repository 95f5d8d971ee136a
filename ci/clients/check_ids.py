#!/usr/bin/env python3
"""Reads a client's output on stdin and checks the ids in it.

check_ids.py COUNT [--json KEY] [--memcached]
  plain       every non-empty line is one id
  --json KEY  the whole input is a JSON object whose KEY is an id or a list of ids (strings)
  --memcached the input is a text-protocol get reply (VALUE lines, END)
Each id must be a decimal uint64 with bit 63 clear, and they must strictly increase.
"""
import json
import sys


def main():
    want = int(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
    text = sys.stdin.read()
    if mode == "--json":
        value = json.loads(text)[sys.argv[3]]
        ids = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in ids):
            sys.exit(f"ids must be JSON strings: {text!r}")
    elif mode == "--memcached":
        lines = text.replace("\r\n", "\n").split("\n")
        if "END" not in lines:
            sys.exit(f"no END in {text!r}")
        ids = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("VALUE ")]
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    if len(ids) != want:
        sys.exit(f"want {want} ids, got {len(ids)}: {text!r}")
    last = -1
    for raw in ids:
        if not raw.isdigit():
            sys.exit(f"not a decimal id: {raw!r}")
        v = int(raw)
        if v >= 1 << 63:
            sys.exit(f"{v} has bit 63 set")
        if v <= last:
            sys.exit(f"{v} does not increase (after {last})")
        last = v
    print(f"{len(ids)} ids ok")


main()
