#!/usr/bin/env python3
"""Checks the generated katsubushi(1) page (ctest, label unit).

  check_manpage.py flags  --bin KATSUBUSHI --page PAGE
      every flag `katsubushi -help` prints is an option on the page, and every
      option on the page is one -help prints: a flag added without a README
      row, or a row left for a flag that is gone, fails here.
  check_manpage.py render --page PAGE
      the page is ASCII, has its sections, and groff -man -ww renders it
      without a warning.
  check_manpage.py selftest --readme README --generator make_manpage.py --bin KATSUBUSHI
      both checks above fail when they should: on a page from a README
      without its first flag row, and on a page with an unknown macro.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "SIGNALS",
            "EXIT STATUS", "FILES", "SEE ALSO"]


def help_flags(binary: str) -> set[str]:
    out = subprocess.run([binary, "-help"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return set(re.findall(r"^ {2}(-[a-z0-9][a-z0-9-]*)\b", out, re.M))


def page_options(page: str) -> set[str]:
    """The flags named in the tags (the line after .TP) of the OPTIONS section."""
    lines = page.splitlines()
    try:
        start = lines.index(".SH OPTIONS")
    except ValueError:
        return set()
    found = set()
    for i in range(start + 1, len(lines) - 1):
        if lines[i].startswith(".SH "):
            break
        if lines[i] == ".TP":
            for name in re.findall(r"\\fB(\\-[^\\ ]*(?:\\-[^\\ ]*)*)\\fR", lines[i + 1]):
                found.add(name.replace("\\-", "-"))
    return found


def check_flags(binary: str, page_path: str) -> list[str]:
    with open(page_path, encoding="ascii", errors="replace") as f:
        on_page = page_options(f.read())
    printed = help_flags(binary)
    problems = []
    if len(printed) < 10:
        problems.append(f"-help printed only {sorted(printed)}: not the usage this check reads")
    problems += [f"{flag}: printed by -help, not on the page (no row in README.md's Flags table?)"
                 for flag in sorted(printed - on_page)]
    problems += [f"{flag}: on the page, not printed by -help (a README row for a flag that is gone?)"
                 for flag in sorted(on_page - printed)]
    return problems


def check_render(page_path: str) -> list[str]:
    with open(page_path, "rb") as f:
        raw = f.read()
    problems = []
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        return [f"not ASCII at byte {e.start}: other characters must be groff escapes"]
    headings = re.findall(r"^\.SH (.+)$", text, re.M)
    problems += [f"no {s} section" for s in SECTIONS if s not in headings]
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page_path],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        problems.append(f"groff exited with status {r.returncode}")
    problems += [f"groff: {line}" for line in r.stderr.splitlines()]
    return problems


def selftest(readme_path: str, generator: str, binary: str) -> list[str]:
    problems = []
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    # The first row of the Flags table, gone.
    m = re.search(r"^## Flags\n(?:(?!\|).*\n)*\|.*\n\|.*\n(\| `(-[a-z-]+)`.*\n)", readme, re.M)
    if not m:
        return ["selftest: no first row in README.md's Flags table"]
    flag = m.group(2)
    with tempfile.TemporaryDirectory() as tmp:
        short_readme = os.path.join(tmp, "README.md")
        with open(short_readme, "w", encoding="utf-8") as f:
            f.write(readme[:m.start(1)] + readme[m.end(1):])
        page = os.path.join(tmp, "katsubushi.1")
        subprocess.run([sys.executable, generator, short_readme, page, "--version", "0",
                        "--env-file", "/e", "--unit-dir", "/u", "--doc-dir", "/d",
                        "--state-file", "/s"], check=True)
        missing = check_flags(binary, page)
        if not any(p.startswith(flag + ":") for p in missing):
            problems.append(f"selftest: the flags check passed a page without {flag}: {missing}")
        with open(page, "a", encoding="ascii") as f:
            f.write(".XY not a macro\n")
        if not any("XY" in p for p in check_render(page)):
            problems.append("selftest: the render check passed a page with an unknown macro")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description="Checks the generated katsubushi(1) page.")
    ap.add_argument("check", choices=["flags", "render", "selftest"])
    ap.add_argument("--page")
    ap.add_argument("--bin")
    ap.add_argument("--readme")
    ap.add_argument("--generator")
    a = ap.parse_args()
    if a.check == "flags":
        problems = check_flags(a.bin, a.page)
    elif a.check == "render":
        problems = check_render(a.page)
    else:
        problems = selftest(a.readme, a.generator, a.bin)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{a.check}: {'FAIL' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
