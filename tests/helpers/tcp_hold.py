#!/usr/bin/env python3
"""Kernel-side TCP client that opens connections and holds them open.

For each PORT:BYTES argument it connects to HOST:PORT and sends BYTES bytes
(and reads nothing back).  Once every connection is up it prints one line,
`held P1 P2 ...` with the local (kernel-side) port of each connection in
argument order, then waits until its stdin closes (or a line arrives), closes
every connection and exits 0.  Bounded by whoever runs it (`timeout`).

usage: tcp_hold.py HOST PORT:BYTES [PORT:BYTES ...]
"""
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    host = sys.argv[1]
    held = []
    for spec in sys.argv[2:]:
        port, size = (int(x) for x in spec.split(":"))
        s = socket.create_connection((host, port), timeout=10)
        if size:
            s.sendall(bytes(i % 251 for i in range(size)))
        held.append(s)
    print("held " + " ".join(str(s.getsockname()[1]) for s in held), flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
