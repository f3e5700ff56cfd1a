#!/usr/bin/env python3
"""Kernel-side raw IP protocol client.

usage: raw_proto.py echo HOST PROTO SIZE...   send one datagram of each SIZE
         (bytes derived from the size) and wait for it to come back whole;
         prints 'echo SIZE ok' for each
       raw_proto.py flood HOST PROTO N         send N small datagrams; prints 'sent N'

Fragmentation is left to the kernel (IP_PMTUDISC_DONT), so a datagram larger than
the TUN's MTU goes out in fragments and the echo comes back in fragments."""
import socket
import sys

IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0

mode, host, proto = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
s.settimeout(10)

if mode == "flood":
    n = int(sys.argv[4])
    for i in range(n):
        s.sendto(i.to_bytes(4, "big"), (host, 0))
    print(f"sent {n}", flush=True)
    sys.exit(0)

for size in map(int, sys.argv[4:]):
    payload = bytes((i * 7 + size) % 256 for i in range(size))
    s.sendto(payload, (host, 0))
    while True:
        packet, (src, _) = s.recvfrom(70000)
        ihl = (packet[0] & 0x0F) * 4
        if src == host and packet[ihl:] == payload:
            print(f"echo {size} ok", flush=True)
            break
