#!/usr/bin/env python3
"""Writes the katsubushi(1) man page from README.md.

OPTIONS and ENVIRONMENT come from the README's "## Flags" section (its opening
paragraph and every row of its table), SIGNALS from the "Shutdown on ..." point
of "## Server behaviour", so the page says what the README says and a flag with
a README row is on the page. The rest (what the daemon is, files, exit status)
is written here; the paths it names are the .deb's (CMakeLists.txt passes
them). The output is plain ASCII roff: other characters become groff
escapes, so the page renders the same whatever the reader's locale.

usage: make_manpage.py README OUTPUT --version V --env-file PATH --unit-dir DIR
                       --doc-dir DIR [--state-file PATH] [--gz OUTPUT.gz]
"""
import argparse
import gzip
import re
import sys


class ReadmeError(Exception):
    """The README does not have the shape this script reads."""


def section(readme: str, heading: str) -> list[str]:
    """The lines under `heading` up to the next heading of the same or a higher level."""
    lines = readme.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise ReadmeError(f"no {heading!r} heading") from None
    level = len(heading) - len(heading.lstrip("#"))
    body = []
    for line in lines[start + 1:]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    return body


def paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated paragraphs of prose (tables, lists and code left out), each one line."""
    out, cur, in_code = [], [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or line.startswith("|") or line.startswith("<!--"):
            continue
        if not line.strip():
            if cur:
                out.append(" ".join(cur))
                cur = []
            continue
        cur.append(line.strip())
    if cur:
        out.append(" ".join(cur))
    return out


def table_rows(lines: list[str]) -> list[list[str]]:
    """The body rows of the first table in `lines`, cells trimmed."""
    rows, seen = [], 0
    for line in lines:
        if not line.startswith("|"):
            if seen:
                break
            continue
        seen += 1
        if seen <= 2:  # header and separator
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def bullet(lines: list[str], starts: str) -> str:
    """The list item (with its continuation lines) whose text starts with `starts`, one line."""
    for i, line in enumerate(lines):
        if line.startswith("- " + starts):
            text = [line[2:].strip()]
            for more in lines[i + 1:]:
                if not more.startswith("  ") or not more.strip():
                    break
                text.append(more.strip())
            return " ".join(text)
    raise ReadmeError(f"no list item starting {starts!r}")


def escape(text: str) -> str:
    """Plain text as roff: backslashes, and every non-ASCII character as a groff escape."""
    text = text.replace("\\", "\\e")
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)


def inline(md: str) -> str:
    """Markdown inline text as roff: `code` and **strong** bold (dashes in code as
    minus signs, so options can be searched for and pasted), links as their text."""
    md = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", md)
    # README sections named in the text are found in README.md, not "below".
    md = re.sub(r"\b(see [^;,.)]+?) below\b", r"\1 in README.md", md)
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", md)):
        if i % 2:
            out.append(r"\fB" + escape(part).replace("-", r"\-") + r"\fR")
        else:
            part = escape(part)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", part))
    return "".join(out)


def text_line(roff: str) -> str:
    """A line of running text: never read as a request, whatever it starts with."""
    return "\\&" + roff if roff[:1] in (".", "'") else roff


def code_cells(cell: str) -> list[str]:
    """The `...` spans of a table cell: `-min-worker-id`, `-max-worker-id` -> two names."""
    return re.findall(r"`([^`]+)`", cell)


def bold(word: str) -> str:
    return r"\fB" + escape(word).replace("-", r"\-") + r"\fR"


def options(rows: list[list[str]]) -> list[str]:
    out = []
    for row in rows:
        if len(row) != 4:
            raise ReadmeError(f"flag row without 4 cells: {row}")
        flag_cell, env_cell, default, meaning = row
        flags, envs = code_cells(flag_cell), code_cells(env_cell)
        if not flags or not all(f.startswith("-") for f in flags):
            raise ReadmeError(f"flag row without flags: {row}")
        # A flag with an environment variable takes a value; the others
        # (-version, -help, those ignored for compatibility) are switches here.
        takes = r" \fIvalue\fR" if envs else ""
        out.append(".TP")
        out.append(", ".join(bold(f) + takes for f in flags))
        out.append(text_line(inline(meaning)) + ("" if meaning.endswith(".") else "."))
        if default:
            out.append(".br")
            out.append(text_line("Default: " + inline(default) + "."))
        if envs:
            out.append(".br")
            out.append("Environment: " + ", ".join(
                f"{bold(e)} or {bold(e.lower())}" for e in envs) + ".")
    return out


def environment(rows: list[list[str]]) -> list[str]:
    out = []
    for flag_cell, env_cell, _, _ in rows:
        for flag, env in zip(code_cells(flag_cell), code_cells(env_cell)):
            out += [".TP", f"{bold(env)}, {bold(env.lower())}", f"As {bold(flag)}."]
    return out


def page(readme: str, a: argparse.Namespace) -> str:
    flag_lines = section(readme, "## Flags")
    rows = table_rows(flag_lines)
    if not rows:
        raise ReadmeError("no table under '## Flags'")
    intro = paragraphs(flag_lines)
    signals = bullet(section(readme, "## Server behaviour"), "Shutdown on")
    env_file, unit_dir, doc_dir = escape(a.env_file), escape(a.unit_dir), escape(a.doc_dir)
    units = [
        ("katsubushi.service", "Runs the daemon with the settings of " + env_file
         + "; the package neither enables nor starts it"),
        ("katsubushi.socket", "The memcached port, held by systemd (socket activation):"
         " connections made while the daemon restarts wait instead of being refused;"
         " overrides \\fB\\-port\\fR"),
        ("katsubushi-http.socket", "The HTTP port, held by systemd;"
         " overrides \\fB\\-http\\-port\\fR"),
        ("katsubushi-grpc.socket", "The gRPC port, held by systemd;"
         " overrides \\fB\\-grpc\\-port\\fR"),
    ]
    r = [
        f'.TH KATSUBUSHI 1 "" "katsubushi-cpp {escape(a.version)}" "User Commands"',
        ".SH NAME",
        r"katsubushi \- hands out unique 64\-bit ids over the memcached protocol",
        ".SH SYNOPSIS",
        r".B katsubushi",
        r"\fB\-worker\-id\fR=\fIN\fR [\fIflag\fR ...]",
        ".br",
        r".B katsubushi",
        r"\fB\-redis\fR=\fIURL\fR [\fIflag\fR ...]",
        ".SH DESCRIPTION",
        r"\fBkatsubushi\fR is a stand\-alone daemon that hands out unique, time\-ordered",
        r"64\-bit ids, a drop\-in replacement for go\-katsubushi (the same id layout, flags,",
        r"environment variables and replies).",
        "Each key of a memcached \\fBget\\fR is answered with a new id.",
        "The port speaks the memcached text, meta and binary protocols and HTTP/1.1",
        "(\\fBGET /id\\fR), chosen per connection from its first bytes;",
        r"\fB\-http\-port\fR and \fB\-grpc\-port\fR add an HTTP and a gRPC listener.",
        ".PP",
        "An id is the milliseconds since 2015\\-01\\-01T00:00:00Z (bits 62..22),",
        "the worker id (bits 21..12) and a sequence (bits 11..0):",
        "at most 4096 ids per millisecond per worker id.",
        "Every instance that runs at the same time needs a worker id of its own,",
        r"given with \fB\-worker\-id\fR or leased from Redis with \fB\-redis\fR.",
        ".PP",
        "Sections of the README named below are in",
        f"\\fI{doc_dir}/README.md\\fR.",
        ".SH OPTIONS",
    ]
    for p in intro:
        r += [".PP", text_line(inline(p))]
    r += options(rows)
    r += [
        ".SH ENVIRONMENT",
        "Every flag with a value can be given in the environment, by its name in",
        "upper or lower case with dashes as underscores; the command line wins.",
    ]
    r += environment(rows)
    r += [
        ".SH SIGNALS",
        text_line(inline(signals)),
        ".SH EXIT STATUS",
        "0 after a graceful stop, \\fB\\-help\\fR or \\fB\\-version\\fR;",
        "1 when the daemon cannot start (a port taken, an unusable state file or one",
        "another daemon holds, no lease)",
        "or on a second stop signal; 2 for a bad flag or value, or no worker id.",
        ".SH FILES",
        ".TP",
        f"\\fI{env_file}\\fR",
        "The settings of the systemd service: flags as environment variables",
        "(see ENVIRONMENT). A worker id must be set here before the service is started.",
    ]
    if a.state_file:
        r += [
            ".TP",
            f"\\fI{escape(a.state_file)}\\fR",
            "The state file the service keeps (\\fBSTATE_FILE\\fR in " + env_file + "),",
            "in the unit's state directory.",
            ".TP",
            f"\\fI{escape(a.state_file)}.lock\\fR",
            "The lock the running daemon holds on the state file (flock), with its pid in it:",
            "a second daemon on the same state file exits 1 naming that pid. Left behind at",
            "exit and harmless then; not the state file, never to be put in its place.",
            ".TP",
            f"\\fI{escape(a.state_file)}.tmp\\fR",
            "The next state file while it is written, renamed over it once synced.",
        ]
    for name, what in units:
        r += [".TP", f"\\fI{unit_dir}/{name}\\fR", what + "."]
    r += [
        ".PP",
        "These are the paths of the katsubushi package (prefix /usr);",
        "\\fBcmake \\-\\-install\\fR with another prefix puts the units and",
        "\\fIetc/default/katsubushi\\fR under that prefix, and points the service at them.",
    ]
    r += [
        ".SH SEE ALSO",
        r"\fBkatsubushi\-dump\fR (\fBkatsubushi\-dump \-help\fR), which decodes an id into its",
        "time, worker id and sequence and back;",
        r"\fBsystemctl\fR(1), \fBsystemd.service\fR(5), \fBsystemd.socket\fR(5);",
        "go\\-katsubushi, https://github.com/kayac/go\\-katsubushi.",
    ]
    return "\n".join(r) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description="Writes katsubushi.1 from README.md.")
    ap.add_argument("readme")
    ap.add_argument("output")
    ap.add_argument("--version", required=True)
    ap.add_argument("--env-file", required=True)
    ap.add_argument("--unit-dir", required=True)
    ap.add_argument("--doc-dir", required=True)
    ap.add_argument("--state-file", help="the state file the packaged settings name")
    ap.add_argument("--gz", help="also write the page gzipped here, as Debian installs pages")
    a = ap.parse_args()
    with open(a.readme, encoding="utf-8") as f:
        readme = f.read()
    try:
        text = page(readme, a)
    except ReadmeError as e:
        print(f"make_manpage.py: {a.readme}: {e}", file=sys.stderr)
        return 1
    with open(a.output, "w", encoding="ascii") as f:
        f.write(text)
    if a.gz:
        # No name or time in the header: the same README gives the same bytes.
        with open(a.gz, "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f:
            f.write(text.encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
