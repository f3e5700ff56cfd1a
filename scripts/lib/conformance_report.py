#!/usr/bin/env python3
"""Summarise a conformance run (scripts/conformance.sh): a per-directory table,
the reasons grouped, totals, and a JSON file.

Usage: conformance_report.py RESULTS_TSV SUITE PROFILE JSON_OUT
           [--expect FILE] [--write-expect FILE]

RESULTS_TSV has one line per script: path (relative to SUITE), exit code, line
of the verdict (may be empty), number of notes, reason (empty for a pass).
Exits 1 if any script got no verdict (a crash or a timeout), or did worse than
the expectations file says, else 0.

An expectations file has one line per script that is not expected to pass:
    path <TAB> verdict <TAB> reason
('#' starts a comment). Verdicts rank pass > fail > unsupported > invalid >
error: doing worse than listed, or not passing while unlisted, is a regression.
"""

import json
import re
import sys
from collections import Counter, defaultdict

VERDICTS = ["pass", "fail", "invalid", "unsupported", "error"]
BY_CODE = {0: "pass", 1: "fail", 2: "invalid", 3: "unsupported"}


def group_key(reason):
    """The reason with numbers folded, so `ack 5 instead of 6` groups with others."""
    key = re.sub(r"\d+(\.\d+)?", "N", reason)
    return key if len(key) <= 140 else key[:137] + "..."


RANK = {"pass": 4, "fail": 3, "unsupported": 2, "invalid": 1, "error": 0}


def read_expectations(path):
    """{script path: (verdict, reason)} from an expectations file."""
    expected = {}
    with open(path, encoding="utf-8") as f:
        for number, row in enumerate(f, 1):
            row = row.rstrip("\n")
            if not row.strip() or row.lstrip().startswith("#"):
                continue
            fields = row.split("\t", 2)
            if len(fields) < 2 or fields[1] not in RANK:
                raise SystemExit(f"{path}:{number}: expected 'path<TAB>verdict<TAB>reason', got {row!r}")
            expected[fields[0]] = (fields[1], fields[2] if len(fields) > 2 else "")
    return expected


def compare_expectations(scripts, expected):
    """Print the differences; return the number of regressions."""
    regressions, improvements = [], []
    for s in scripts:
        want, why = expected.get(s["path"], ("pass", ""))
        if RANK[s["verdict"]] < RANK[want]:
            regressions.append(f"  {s['path']}: {s['verdict']} (expected {want}{': ' + why if why else ''}): {s['reason']}")
        elif RANK[s["verdict"]] > RANK[want]:
            improvements.append(f"  {s['path']}: {s['verdict']} (listed as {want}) - update the expectations")
    seen = {s["path"] for s in scripts}
    missing = [p for p in expected if p not in seen]
    print()
    if regressions:
        print(f"{len(regressions)} regressions against the expectations:")
        print("\n".join(regressions))
    if improvements:
        print(f"{len(improvements)} scripts do better than expected:")
        print("\n".join(improvements))
    if missing:
        print(f"{len(missing)} listed scripts were not run: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if not regressions and not improvements:
        print("verdicts as expected")
    return len(regressions)


def write_expectations(path, scripts, suite, profile):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# Expected verdicts of {suite} with the {profile} profile, from\n")
        f.write("# scripts/conformance.sh --write-expect. Scripts not listed must pass.\n")
        f.write("# path<TAB>verdict<TAB>reason (say why: runner gap, profile difference, unsupported feature)\n")
        for s in sorted(scripts, key=lambda s: s["path"]):
            if s["verdict"] != "pass":
                f.write(f"{s['path']}\t{s['verdict']}\t{group_key(s['reason'])}\n")
    print(f"expectations written: {path}")


def main():
    args = sys.argv[1:]
    expect = write_expect = None
    while len(args) > 4 and args[-2] in ("--expect", "--write-expect"):
        if args[-2] == "--expect":
            expect = args[-1]
        else:
            write_expect = args[-1]
        args = args[:-2]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    results_path, suite, profile, json_out = args
    scripts = []
    with open(results_path, encoding="utf-8", errors="replace") as f:
        for row in f:
            path, code, line, notes, reason = (row.rstrip("\n").split("\t", 4) + [""] * 5)[:5]
            code = int(code) if code.lstrip("-").isdigit() else -1
            verdict = BY_CODE.get(code, "error")
            # The verdict says it already.
            for prefix in ("unsupported: ", "syntax error: "):
                reason = reason[len(prefix):] if reason.startswith(prefix) else reason
            if verdict == "error" and not reason:
                reason = f"exit code {code}"
            scripts.append(
                {
                    "path": path,
                    "directory": path.rsplit("/", 1)[0] if "/" in path else ".",
                    "verdict": verdict,
                    "exit_code": code,
                    "line": int(line) if line.isdigit() else None,
                    "notes": int(notes) if notes.isdigit() else 0,
                    "reason": reason if verdict != "pass" else "",
                }
            )

    per_dir = defaultdict(Counter)
    totals = Counter()
    for s in scripts:
        per_dir[s["directory"]][s["verdict"]] += 1
        totals[s["verdict"]] += 1

    width = max([len("directory")] + [len(d) for d in per_dir])
    header = f"{'directory':<{width}}  " + "  ".join(f"{v:>11}" for v in VERDICTS) + f"  {'total':>5}"
    print(header)
    print("-" * len(header))
    for d in sorted(per_dir):
        c = per_dir[d]
        print(f"{d:<{width}}  " + "  ".join(f"{c[v]:>11}" for v in VERDICTS) + f"  {sum(c.values()):>5}")
    print("-" * len(header))
    print(f"{'total':<{width}}  " + "  ".join(f"{totals[v]:>11}" for v in VERDICTS) + f"  {len(scripts):>5}")

    reasons = Counter((s["verdict"], group_key(s["reason"])) for s in scripts if s["verdict"] != "pass")
    examples = {}
    for s in scripts:
        if s["verdict"] != "pass":
            examples.setdefault((s["verdict"], group_key(s["reason"])), s["path"])
    if reasons:
        print()
        print("reasons (most frequent first):")
        for (verdict, key), n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{n:>5}  {verdict:<11}  {key}")
            print(f"{'':>5}  {'':<11}  e.g. {examples[(verdict, key)]}")

    n = len(scripts)
    print()
    print(
        f"{totals['pass']} of {n} passed ({100.0 * totals['pass'] / n:.1f} %), "
        f"{totals['fail']} failed, {totals['invalid']} invalid, "
        f"{totals['unsupported']} unsupported, {totals['error']} without a verdict"
    )

    report = {
        "suite": suite,
        "profile": profile,
        "totals": {v: totals[v] for v in VERDICTS} | {"scripts": n},
        "directories": [
            {"directory": d} | {v: per_dir[d][v] for v in VERDICTS} for d in sorted(per_dir)
        ],
        "reasons": [
            {"verdict": v, "reason": k, "count": c, "example": examples[(v, k)]}
            for (v, k), c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "scripts": scripts,
    }
    with open(json_out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"JSON: {json_out}")
    regressions = 0
    if expect:
        regressions = compare_expectations(scripts, read_expectations(expect))
    if write_expect:
        write_expectations(write_expect, scripts, suite, profile)
    return 1 if totals["error"] or regressions else 0


if __name__ == "__main__":
    sys.exit(main())
