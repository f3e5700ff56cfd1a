#!/usr/bin/env python3
"""Kernel-side raw IP protocol client.

usage: raw_proto.py echo HOST PROTO SIZE...   send one datagram of each SIZE
         (bytes derived from the size) and wait for it to come back whole;
         prints 'echo SIZE ok' for each
       raw_proto.py flood HOST PROTO N         send N small datagrams; prints 'sent N'

HOST may be IPv6 (it has a ':'): the socket is then AF_INET6, whose reads are the
payload alone — no IPv6 header, unlike IPv4's raw reads (RFC 3542 §3).

Fragmentation is left to the kernel (IP_PMTUDISC_DONT over IPv4; IPv6 fragments
at the source anyway), so a datagram larger than the TUN's MTU goes out in
fragments and the echo comes back in fragments."""
import socket
import sys

IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0

mode, host, proto = sys.argv[1], sys.argv[2], int(sys.argv[3])
v6 = ":" in host
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, proto)
if not v6:
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
        packet, address = s.recvfrom(70000)
        body = packet if v6 else packet[(packet[0] & 0x0F) * 4 :]
        if address[0] == host and body == payload:
            print(f"echo {size} ok", flush=True)
            break
