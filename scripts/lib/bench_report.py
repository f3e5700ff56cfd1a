#!/usr/bin/env python3
"""The report of scripts/bench.sh: raw runs in, a Markdown table and results.json out.

Reads the JSON-lines file bench.sh appends one run to at a time
({"test", "mtu", "contender", "run", "result": {...}} or "error": "..."), takes
the median of each figure over its runs, adds the ratios tunstack / smoltcp and
tunstack / TUN ceiling, prints the table on stdout and writes the summary, with
the machine, date and commit, to the JSON file named on the command line.

Usage: bench_report.py RAW.jsonl RESULTS.json [--bulk-mib N --runs N --secs S
       --conns N --elapsed S]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

CONTENDERS = ["tunstack", "async", "offload", "smoltcp", "kernel", "ceiling"]

# (test, metric in the run's result, row label, unit, digits, higher is better)
ROWS = [
    ("bulk_k2s", "gbps", "TCP bulk kernel → stack", "Gbit/s", 2, True),
    ("bulk_s2k", "gbps", "TCP bulk stack → kernel", "Gbit/s", 2, True),
    ("rr", "rtt_per_sec", "TCP 1-byte request/response", "round trips/s", 0, True),
    ("rr", "p50_us", "TCP request/response p50", "µs", 1, False),
    ("rr", "p99_us", "TCP request/response p99", "µs", 1, False),
    ("connrate", "conn_per_sec", "connect + 1 request + close", "conn/s", 0, True),
    ("udp64", "pps", "UDP echo 64 B", "packets/s", 0, True),
    ("udp1472", "pps", "UDP echo 1472 B", "packets/s", 0, True),
    ("memory", "kib_per_conn", "memory per idle connection", "KiB", 1, False),
    ("memory", "open_secs", "time to open the idle connections", "s", 2, False),
]


def load(path):
    runs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def commit():
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def summarize(runs):
    """{(test, mtu, contender): {"values": {metric: [..]}, "errors": [..]}}"""
    groups = {}
    for r in runs:
        key = (r["test"], r["mtu"], r["contender"])
        g = groups.setdefault(key, {"values": {}, "errors": []})
        if "error" in r:
            g["errors"].append(r["error"])
            continue
        for metric, value in r["result"].items():
            if isinstance(value, (int, float)):
                g["values"].setdefault(metric, []).append(value)
    return groups


def median(groups, test, mtu, contender, metric):
    g = groups.get((test, mtu, contender))
    if not g or metric not in g["values"]:
        return None
    return statistics.median(g["values"][metric])


def fmt(value, digits):
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"


def ratio(a, b, higher_better):
    """tunstack / other, as a factor where above 1 means tunstack is better."""
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if higher_better else b / a


def table(groups, mtus):
    lines = [
        "| figure | unit | tunstack | tunstack async | tunstack, offloads | smoltcp | kernel (veth) | TUN ceiling "
        "| tunstack / smoltcp | async / smoltcp | tunstack / ceiling | offloads / kernel |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows_json = []
    for test, metric, label, unit, digits, higher in ROWS:
        for mtu in mtus:
            if not any(k[0] == test and k[1] == mtu for k in groups):
                continue
            values = {c: median(groups, test, mtu, c, metric) for c in CONTENDERS}
            vs_smoltcp = ratio(values["tunstack"], values["smoltcp"], higher)
            async_vs_smoltcp = ratio(values["async"], values["smoltcp"], higher)
            vs_ceiling = ratio(values["tunstack"], values["ceiling"], higher)
            offload_vs_kernel = ratio(values["offload"], values["kernel"], higher)
            name = f"{label}, MTU {mtu}" if test.startswith("bulk") else label
            cells = [fmt(values[c], digits) for c in CONTENDERS]
            r1, r1a = fmt_ratio(vs_smoltcp), fmt_ratio(async_vs_smoltcp)
            r2, r3 = fmt_ratio(vs_ceiling), fmt_ratio(offload_vs_kernel)
            lines.append(f"| {name} | {unit} | " + " | ".join(cells) + f" | {r1} | {r1a} | {r2} | {r3} |")
            rows_json.append(
                {
                    "test": test,
                    "metric": metric,
                    "label": name,
                    "unit": unit,
                    "mtu": mtu,
                    "higher_is_better": higher,
                    "median": values,
                    "runs": {
                        c: groups.get((test, mtu, c), {"values": {}})["values"].get(metric, []) for c in CONTENDERS
                    },
                    "errors": {c: groups[(test, mtu, c)]["errors"] for c in CONTENDERS if (test, mtu, c) in groups and groups[(test, mtu, c)]["errors"]},
                    "tunstack_over_smoltcp": vs_smoltcp,
                    "async_over_smoltcp": async_vs_smoltcp,
                    "tunstack_over_ceiling": vs_ceiling,
                    "offload_over_kernel": offload_vs_kernel,
                }
            )
    return "\n".join(lines), rows_json


def ab_table(groups, mtus):
    """This build against BENCH_BASELINE's binary, measured in the same run: one row
    per figure the baseline took part in. Empty when there was no baseline."""
    lines = []
    for test, metric, label, unit, digits, higher in ROWS:
        for mtu in mtus:
            if (test, mtu, "baseline") not in groups:
                continue
            now, base = median(groups, test, mtu, "tunstack", metric), median(groups, test, mtu, "baseline", metric)
            name = f"{label}, MTU {mtu}" if test.startswith("bulk") else label
            runs = lambda c: ", ".join(fmt(v, digits) for v in groups.get((test, mtu, c), {"values": {}})["values"].get(metric, []))
            lines.append(
                f"| {name} | {unit} | {fmt(base, digits)} ({runs('baseline')}) | {fmt(now, digits)} ({runs('tunstack')}) "
                f"| {fmt_ratio(ratio(now, base, higher))} |"
            )
    if not lines:
        return ""
    head = [
        "| figure | unit | baseline (runs) | this build (runs) | this build / baseline |",
        "|---|---|---:|---:|---:|",
    ]
    return "\n".join(head + lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw")
    parser.add_argument("out")
    parser.add_argument("--bulk-mib", type=int, default=0)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--secs", type=float, default=0)
    parser.add_argument("--conns", type=int, default=0)
    parser.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args()

    runs = load(args.raw)
    groups = summarize(runs)
    mtus = sorted({r["mtu"] for r in runs})
    text, rows = table(groups, mtus)
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "commit": commit(),
        "bulk_mib": args.bulk_mib,
        "runs": args.runs,
        "secs_per_run": args.secs,
        "idle_connections": args.conns,
        "elapsed_secs": args.elapsed,
    }
    m = info["machine"]
    print(
        f"{info['date']} · {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']} · commit {info['commit']} · "
        f"median of {args.runs} runs, bulk {args.bulk_mib} MiB per run"
    )
    print()
    print(text)
    ab = ab_table(groups, mtus)
    if ab:
        print()
        print("A/B, same run (BENCH_BASELINE), above 1× meaning this build does better:")
        print()
        print(ab)
    failed = [r for r in runs if "error" in r]
    if failed:
        print()
        print(f"{len(failed)} run(s) failed:")
        for r in failed:
            print(f"  {r['test']} mtu {r['mtu']} {r['contender']} run {r['run']}: {r['error']}")
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({**info, "rows": rows, "table_markdown": text, "ab_markdown": ab}, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
