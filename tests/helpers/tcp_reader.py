#!/usr/bin/env python3
"""Kernel-side TCP client that connects to HOST:PORT, prints 'connected', then
reads (and discards) whatever arrives until the connection ends or it is killed.
Used to hold a connection open, idle (to an idle service) or busy (chargen).

usage: tcp_reader.py HOST PORT"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=30)
print("connected", flush=True)
s.settimeout(None)
try:
    while s.recv(65536):
        pass
except OSError:
    pass
