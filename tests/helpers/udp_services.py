#!/usr/bin/env python3
"""Kernel-side clients for the UDP daytime (RFC 867) and chargen (RFC 864) services.

  udp_services.py daytime HOST [--port 13]
      sends one datagram, checks that the answer is printable text containing
      the current year; prints `OK daytime <answer>`.
  udp_services.py chargen HOST [--port 19]
      sends one datagram, checks that the answer is 1..512 bytes of printable
      ASCII (plus CR/LF); prints `OK chargen <n> bytes` then the answer.

Exits non-zero with a message on stderr otherwise.  Standard library only;
every wait is bounded by --timeout.
"""
import argparse
import socket
import sys
import time

PRINTABLE = set(range(0x20, 0x7F)) | {0x0D, 0x0A}


def query(host: str, port: int, timeout: float) -> bytes:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(b"\n", (host, port))
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        raise SystemExit(f"FAIL: no answer from {host}:{port} within {timeout}s")
    if addr != (host, port):
        raise SystemExit(f"FAIL: answer came from {addr}, expected {(host, port)}")
    return data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("service", choices=["daytime", "chargen"])
    ap.add_argument("host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()

    if args.service == "daytime":
        data = query(args.host, args.port or 13, args.timeout)
        bad = [b for b in data if b not in PRINTABLE]
        if not data or bad:
            print(f"FAIL: daytime answer is not printable text: {data!r}", file=sys.stderr)
            return 1
        text = data.decode("ascii")
        years = {str(time.gmtime().tm_year), str(time.localtime().tm_year)}
        if not any(y in text for y in years):
            print(f"FAIL: daytime answer {text!r} does not contain the year ({'/'.join(sorted(years))})", file=sys.stderr)
            return 1
        print(f"OK daytime {text.strip()}", flush=True)
        return 0

    data = query(args.host, args.port or 19, args.timeout)
    bad = sorted({b for b in data if b not in PRINTABLE})
    if not data or len(data) > 512 or bad:
        print(f"FAIL: chargen answer ({len(data)} bytes, non-printable {bad[:10]}) is not 1..512 printable ASCII bytes: {data[:80]!r}", file=sys.stderr)
        return 1
    print(f"OK chargen {len(data)} bytes", flush=True)
    sys.stdout.write(data.decode("ascii"))
    if not data.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
