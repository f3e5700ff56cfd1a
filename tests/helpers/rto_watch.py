#!/usr/bin/env python3
"""Watch one connection's retransmission timeout back off, through the stack's
dashboard data (GET /api/state.json on HOST:80, each poll a new connection).

Polls every 50 ms until the connection whose local port is LPORT and peer port
PPORT has shown COUNT distinct RTO values, or --max-seconds pass. Prints one
line per new value, `rto_ms=R total_retrans=N`, then `doubling` if each value
is twice the one before (RFC 6298 §5.5) and exits 0; exits 1 otherwise.

usage: rto_watch.py HOST LPORT PPORT [--count N] [--max-seconds S]
"""
import argparse
import json
import sys
import time
import urllib.request


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("lport", type=int)
    ap.add_argument("pport", type=int)
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=15.0)
    args = ap.parse_args()
    seen = []
    deadline = time.monotonic() + args.max_seconds
    while len(seen) < args.count and time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://{args.host}/api/state.json", timeout=5) as r:
            state = json.load(r)
        for c in state["connections"]:
            if c["local"].endswith(f":{args.lport}") and c["peer"].endswith(f":{args.pport}"):
                if not seen or c["rto_us"] != seen[-1]:
                    seen.append(c["rto_us"])
                    print(f"rto_ms={c['rto_us'] / 1000:g} total_retrans={c['total_retrans']}", flush=True)
        time.sleep(0.05)
    if len(seen) < args.count:
        print(f"only {len(seen)} RTO values in {args.max_seconds} s", file=sys.stderr)
        return 1
    doubling = all(b == 2 * a for a, b in zip(seen[1:], seen[2:]))
    print("doubling" if doubling else "not doubling")
    return 0 if doubling else 1


if __name__ == "__main__":
    sys.exit(main())
