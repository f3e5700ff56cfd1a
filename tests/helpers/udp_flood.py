#!/usr/bin/env python3
"""Bounded kernel-side UDP flood for the tunstack end-to-end tests.

Sends COUNT sequence-numbered datagrams of SIZE bytes to HOST:PORT as fast as
a blocking Python socket can, then stops by itself.  It also stops after
--max-seconds whatever happened (and then exits 2), so it can never run away.
Each datagram starts with two big-endian u32: its sequence number and COUNT.

Prints one line: `sent=N count=COUNT seconds=S rate=R`.

usage: udp_flood.py HOST PORT [--count N] [--size BYTES] [--max-seconds S]
"""
import argparse
import socket
import struct
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    args = ap.parse_args()
    if args.size < 8:
        ap.error("--size must be at least 8 (sequence header)")
    if not 0 < args.count <= 1_000_000:
        ap.error("--count must be in 1..=1000000")

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A send never blocks for long: the TUN drops when its ring is full, which
    # frees socket buffer space.  The timeout is a safety net all the same.
    s.settimeout(5.0)
    peer = (args.host, args.port)
    filler = bytes(range(256)) * (args.size // 256 + 1)
    start = time.monotonic()
    deadline = start + args.max_seconds
    sent = 0
    for seq in range(args.count):
        if (seq & 0xFF) == 0 and time.monotonic() > deadline:
            break
        payload = struct.pack("!II", seq, args.count) + filler[: args.size - 8]
        n = s.sendto(payload, peer)
        if n != args.size:
            print(f"short send at seq={seq}: {n} bytes", file=sys.stderr)
            return 1
        sent += 1
    elapsed = time.monotonic() - start
    rate = sent / elapsed if elapsed > 0 else float("inf")
    print(f"sent={sent} count={args.count} seconds={elapsed:.3f} rate={rate:.0f}", flush=True)
    if sent != args.count:
        print(f"stopped after {args.max_seconds}s with {sent}/{args.count} sent", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
