#!/usr/bin/env python3
"""Totals of a ctest JUnit file (ctest --output-junit FILE).

    ci/junit_totals.py FILE

Prints "PASSED FAILED SKIPPED" on stdout for ci/test.sh to add up, and a
readable line (with the names of the tests that did not pass) on stderr.

ctest writes a test it could not run (its executable missing, a fixture
failed) as <skipped> although it counts it as failed, so only deliberate
skips are counted as skipped: GTEST_SKIP (SKIP_REGULAR_EXPRESSION), a
SKIP_RETURN_CODE, or the DISABLED property. Any other test that did not run
is an error, and errors count as failures. A file that cannot be read counts
as one failure.
"""
import sys
import xml.etree.ElementTree as ET


def classify(case):
    if case.find("failure") is not None:
        return "failed"
    if case.find("error") is not None:
        return "error"
    if case.get("status") == "disabled":
        return "skipped"
    skipped = case.find("skipped")
    if skipped is not None:
        return "skipped" if skipped.get("message", "").startswith("SKIP_") else "error"
    return "passed"


def main(argv):
    if len(argv) != 2:
        print("usage: junit_totals.py FILE", file=sys.stderr)
        return 2
    try:
        root = ET.parse(argv[1]).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"junit: cannot read {argv[1]}: {e}", file=sys.stderr)
        print("0 1 0")
        return 0
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    not_passed = []
    for case in root.iter("testcase"):
        kind = classify(case)
        counts[kind] += 1
        if kind != "passed":
            not_passed.append(f"  {kind}: {case.get('name')}")
    tests = sum(counts.values())
    print(f"junit: {tests} tests: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['error']} errors (not run), {counts['skipped']} skipped", file=sys.stderr)
    for line in not_passed:
        print(line, file=sys.stderr)
    print(counts["passed"], counts["failed"] + counts["error"], counts["skipped"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
