#!/usr/bin/env python3
"""Checks that a connected kernel UDP socket sees ECONNREFUSED from HOST:PORT.

A UDP socket `connect`ed to a closed port sends one datagram; the peer's ICMP
port-unreachable makes the kernel fail the socket's next recv with
ECONNREFUSED (ICMP or ICMPv6: HOST may be an IPv4 or an IPv6 address).
Prints `REFUSED` and exits 0 when that happens; exits 1 when a reply arrives
instead or nothing happens within --timeout seconds.

usage: udp_refused.py HOST PORT [--timeout SECONDS]
"""
import argparse
import socket
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()

    s = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(args.timeout)
    s.connect((args.host, args.port))
    s.send(b"is anybody there?\n")
    try:
        data = s.recv(65535)
    except ConnectionRefusedError:
        print("REFUSED", flush=True)
        return 0
    except socket.timeout:
        print(f"FAIL: no ICMP port unreachable (no ECONNREFUSED) within {args.timeout}s", file=sys.stderr)
        return 1
    print(f"FAIL: got a {len(data)}-byte reply from a port that should be closed: {data!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
