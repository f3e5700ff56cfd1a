#!/usr/bin/env python3
"""Kernel-side backlog filler: makes N non-blocking connection attempts to
HOST:PORT (an application that never accepts), keeps them open until told to
stop, then closes them all.

usage: tcp_syn_flood.py HOST PORT N
Prints 'opened N' once every connect() has been issued (each sends a SYN), then
waits for a line on stdin, closes every socket and prints 'closed'. Ordinary
sockets only: this is what many impatient clients look like, not a raw flood."""
import os
import resource
import socket
import sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))

socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex((host, port))
    if err not in (0, 115):  # EINPROGRESS
        print(f"FAIL connect {i}: {os.strerror(err)}", file=sys.stderr)
        sys.exit(1)
    socks.append(s)
print(f"opened {n}", flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
print("closed", flush=True)
