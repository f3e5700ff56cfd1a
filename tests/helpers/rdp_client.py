#!/usr/bin/env python3
"""Kernel-side client of the example transport RDP (examples/rdp/protocol.rs),
over a raw socket of IP protocol 253: the same protocol written a second time,
in Python, against the stack's.

usage: rdp_client.py HOST COUNT SIZE... [--drop P] [--seed N]

Sends COUNT messages on one flow (message i is SIZES[i % len(SIZES)] bytes,
derived from i) with a window of 8, retransmitting the oldest on a timeout that
doubles from 200 ms; acknowledges every DATA it receives and expects each
message back (an echo server) exactly once and in order. --drop P throws away
that share of what it receives (seeded), so the stack's retransmissions are
exercised too. After the last echo it lingers until 1 s passes without a
datagram, re-acknowledging what the server sends again. Prints
'echoed COUNT messages in order' and a 'client:' line of counts; exits 1 on a
wrong, repeated or out-of-order echo, or if the peer stops answering."""
import argparse
import random
import socket
import struct
import sys
import time

from raw_inject import checksum  # RFC 1071, as protocol.rs's checksum()

PROTOCOL, DATA, ACK, HEADER = 253, 1, 2, 10
WINDOW, RTO, MAX_RTO, MAX_RETRIES = 8, 0.2, 2.0, 20
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0


def encode(kind, flow, seq, message=b""):
    head = struct.pack("!BBHHI", kind, 0, 0, flow, seq)
    whole = head + message
    return whole[:2] + struct.pack("!H", checksum(whole)) + whole[4:]


def decode(datagram):
    if len(datagram) < HEADER or checksum(datagram) != 0:
        return None
    kind, _, _, flow, seq = struct.unpack("!BBHHI", datagram[:HEADER])
    return kind, flow, seq, datagram[HEADER:]


def message(i, size):
    return bytes((i * 31 + j) % 256 for j in range(size))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("count", type=int)
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    flow = rng.randrange(1, 65536)
    messages = [message(i, args.sizes[i % len(args.sizes)]) for i in range(args.count)]

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTOCOL)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)

    def send(kind, seq, payload=b""):
        s.sendto(encode(kind, flow, seq, payload), (args.host, 0))

    base = nxt = 0  # oldest unacknowledged, next to send
    rto, retries, deadline = RTO, 0, None
    expected, early, echoes = 0, {}, []
    counts = {"retransmitted": 0, "duplicates": 0, "dropped": 0}
    quiet_until = None
    while True:
        now = time.monotonic()
        while nxt < len(messages) and nxt < base + WINDOW:
            send(DATA, nxt, messages[nxt])
            nxt += 1
            deadline = deadline or now + rto
        if deadline is not None and now >= deadline:
            retries += 1
            if retries > MAX_RETRIES:
                sys.exit(f"no ACK for message {base} after {MAX_RETRIES} retries")
            send(DATA, base, messages[base])
            counts["retransmitted"] += 1
            rto = min(rto * 2, MAX_RTO)
            deadline = now + rto
        done = len(echoes) == len(messages) and base == len(messages)
        if done and quiet_until is None:
            quiet_until = now + 1.0
        if quiet_until is not None and now >= quiet_until:
            break
        wait = [t - now for t in (deadline, quiet_until) if t is not None]
        s.settimeout(max(0.001, min(wait)) if wait else 10)
        try:
            packet, (src, _) = s.recvfrom(70000)
        except socket.timeout:
            if not wait:
                sys.exit("the server went silent")
            continue
        ihl = (packet[0] & 0x0F) * 4
        parsed = decode(packet[ihl:])
        if src != args.host or parsed is None or parsed[1] != flow:
            continue
        if rng.random() < args.drop:
            counts["dropped"] += 1
            continue
        if quiet_until is not None:
            quiet_until = time.monotonic() + 1.0
        kind, _, seq, payload = parsed
        if kind == ACK and base < seq <= nxt:
            base, rto, retries = seq, RTO, 0
            deadline = time.monotonic() + rto if base < nxt else None
        elif kind == DATA:
            offset = (seq - expected) % 2**32
            if offset >= 2**31 or seq in early:
                counts["duplicates"] += 1
            elif offset < WINDOW:
                early[seq] = payload
            while expected in early:
                got = early.pop(expected)
                if expected >= len(messages) or got != messages[expected]:
                    sys.exit(f"echo {expected} is wrong: {len(got)} bytes")
                echoes.append(got)
                expected += 1
            send(ACK, expected)
    print(f"echoed {len(echoes)} messages in order", flush=True)
    print("client: " + " ".join(f"{k}={v}" for k, v in counts.items()), flush=True)


main()
