#!/usr/bin/env python3
"""Kernel-side load client: opens N TCP connections to HOST:PORT at once, waits until
every one is established (so all N are open together), then on each sends SIZE
random bytes, half-closes, reads the echo back to end of stream, checks it byte for
byte, and closes. One thread, non-blocking sockets, one selector.

With SIZE 0 it sends nothing and only reads to end of stream (a server that
speaks first and closes first, like daytime), then closes: the server side ends
in TIME-WAIT.

usage: tcp_many.py HOST PORT N SIZE   (HOST an IPv4 or IPv6 address)
Prints 'OK connections=N bytes=B'; exits 1 (listing what went wrong) on a
mismatch, a reset, or if not all are done within 50 s."""
import os
import resource
import selectors
import socket
import sys
import time

host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DEADLINE = time.monotonic() + 50

# N sockets plus Python's own files; the default soft limit is often 1024.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))


def fail(msg):
    print("FAIL", msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, i):
        self.i = i
        self.data = os.urandom(size)
        self.sent = 0
        self.got = bytearray()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        err = self.sock.connect_ex((host, port))
        if err not in (0, 115):  # EINPROGRESS
            fail(f"conn {i}: connect: {os.strerror(err)}")


sel = selectors.DefaultSelector()
conns = [Conn(i) for i in range(n)]

# Phase 1: every connection established (writable, no SO_ERROR).
for c in conns:
    sel.register(c.sock, selectors.EVENT_WRITE, c)
pending = n
while pending:
    if time.monotonic() > DEADLINE:
        fail(f"{pending} of {n} connections not established after 50 s")
    for key, _ in sel.select(timeout=1.0):
        c = key.data
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            fail(f"conn {c.i}: connect: {os.strerror(err)}")
        sel.unregister(c.sock)
        pending -= 1

# Phase 2: all N are open; exchange data on all of them at once.
for c in conns:
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if size else 0)
    sel.register(c.sock, events, c)
remaining = n
failures = []
while remaining:
    if time.monotonic() > DEADLINE:
        fail(f"{remaining} of {n} connections unfinished after 50 s")
    for key, events in sel.select(timeout=1.0):
        c = key.data
        try:
            if events & selectors.EVENT_WRITE and c.sent < size:
                c.sent += c.sock.send(c.data[c.sent:c.sent + 65536])
                if c.sent == size:
                    c.sock.shutdown(socket.SHUT_WR)
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if events & selectors.EVENT_READ:
                chunk = c.sock.recv(65536)
                if chunk:
                    c.got += chunk
                    continue
                # End of stream: the server is done.
                sel.unregister(c.sock)
                c.sock.close()
                remaining -= 1
                if size and (c.sent != size or bytes(c.got) != c.data):
                    failures.append(f"conn {c.i}: echo differs (sent {c.sent}, got {len(c.got)} of {size})")
                if not size and not c.got:
                    failures.append(f"conn {c.i}: the server closed without sending anything")
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            failures.append(f"conn {c.i}: {e}")
            sel.unregister(c.sock)
            c.sock.close()
            remaining -= 1

for f in failures[:20]:
    print("FAIL", f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"OK connections={n} bytes={n * size}")
