#!/usr/bin/env python3
"""Kernel-side UDP echo client (RFC 862) for the tunstack end-to-end tests.

Sends one datagram of random bytes for each SIZE to HOST:PORT and checks that
the reply comes from HOST:PORT and is byte-for-byte identical.  HOST may be an
IPv4 or an IPv6 address (the socket's family follows it).  Prints
`OK size=N` per datagram, exits non-zero with a message on stderr on the first
mismatch or timeout.  Standard library only; every wait is bounded.

usage: udp_echo.py HOST PORT SIZE [SIZE ...] [--timeout SECONDS]
"""
import argparse
import os
import socket
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("sizes", type=int, nargs="+")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()

    v6 = ":" in args.host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(args.timeout)
    s.bind(("::" if v6 else "0.0.0.0", 0))
    peer = (args.host, args.port)
    for size in args.sizes:
        payload = os.urandom(size)
        sent = s.sendto(payload, peer)
        if sent != size:
            print(f"FAIL size={size}: sendto sent {sent} bytes", file=sys.stderr)
            return 1
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            print(f"FAIL size={size}: no echo within {args.timeout}s", file=sys.stderr)
            return 1
        # An IPv6 source comes with flow info and scope id: compare host and port.
        if addr[:2] != peer:
            print(f"FAIL size={size}: reply came from {addr}, expected {peer}", file=sys.stderr)
            return 1
        if data != payload:
            first = next((i for i, (a, b) in enumerate(zip(data, payload)) if a != b), min(len(data), len(payload)))
            print(
                f"FAIL size={size}: echo differs: got {len(data)} bytes, first difference at offset {first}",
                file=sys.stderr,
            )
            return 1
        print(f"OK size={size}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
