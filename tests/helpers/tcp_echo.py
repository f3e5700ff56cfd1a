#!/usr/bin/env python3
"""Kernel-side TCP echo client: N connections at once, each sends SIZE random bytes
to HOST:PORT, half-closes, reads everything back and compares SHA-256.

usage: tcp_echo.py HOST PORT CONNECTIONS SIZE
Prints one 'OK conn=i bytes=n' line per connection; exits 1 on any mismatch."""
import hashlib
import os
import socket
import sys
import threading

host, port, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
results = [None] * conns


def run(i):
    data = os.urandom(size)
    s = socket.create_connection((host, port), timeout=60)

    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    got = hashlib.sha256()
    n = 0
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got.update(chunk)
        n += len(chunk)
    t.join()
    s.close()
    results[i] = (n, got.hexdigest() == hashlib.sha256(data).hexdigest())


threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ok = True
for i, r in enumerate(results):
    if r is None or r[0] != size or not r[1]:
        print(f"FAIL conn={i} result={r}", file=sys.stderr)
        ok = False
    else:
        print(f"OK conn={i} bytes={r[0]}")
sys.exit(0 if ok else 1)
