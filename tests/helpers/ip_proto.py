#!/usr/bin/env python3
"""Sends one IPv4 datagram of protocol PROTO to HOST through a raw socket and waits
(bounded) for the ICMP destination unreachable the host answers with; prints
'icmp TYPE CODE PROTO' with the type, code and the protocol of the quoted header.

usage: ip_proto.py HOST PROTO"""
import socket
import sys

host, proto = sys.argv[1], int(sys.argv[2])
listen = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
listen.settimeout(5)
send = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
send.sendto(b"an experimental protocol", (host, 0))
while True:
    packet, (src, _) = listen.recvfrom(2048)
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if src != host or len(icmp) < 8 + 20:
        continue
    quoted = icmp[8:]
    print(f"icmp {icmp[0]} {icmp[1]} {quoted[9]}", flush=True)
    break
