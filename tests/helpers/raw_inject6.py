#!/usr/bin/env python3
"""Writes hand-built malformed IPv6 packets into a TUN from the kernel side.

As raw_inject.py does for IPv4: an AF_PACKET/SOCK_DGRAM socket bound to the TUN
hands the bytes to the program reading it (the stack) unchanged, so the stack
sees packets the kernel's own IPv6 layer would never send. Every field not meant
to be wrong is valid (lengths, the ICMPv6 checksum of the echo request each
carries), so each packet is bad in exactly one way (RFC 8200 §4, §4.5).

usage: raw_inject6.py [--dev tun0] [--src 2001:2::1] [--dst 2001:2::2] KIND [KIND ...]
KIND is one of the names in PACKETS below, or `all`.  Prints `SENT KIND LEN`
per packet.
"""
import argparse
import socket
import struct
import sys

from raw_inject import checksum  # beside this file: the RFC 1071 checksum

ETH_P_IPV6 = 0x86DD
ICMPV6, FRAGMENT, DEST_OPTIONS, ROUTING = 58, 44, 60, 43


def echo_request(src: bytes, dst: bytes) -> bytes:
    body = struct.pack("!BBHHH", 128, 0, 0, 0x6666, 1) + b"malformed?"
    pseudo = src + dst + struct.pack("!I3xB", len(body), ICMPV6)
    return body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]


def ipv6(src: bytes, dst: bytes, next_header: int, body: bytes, *, payload_len=None) -> bytes:
    length = len(body) if payload_len is None else payload_len
    return struct.pack("!IHBB", 6 << 28, length, next_header, 64) + src + dst + body


def options(next_header: int, kind: int) -> bytes:
    """An 8-byte options header with one 4-byte option of type `kind`."""
    return bytes([next_header, 0, kind, 4, 0, 0, 0, 0])


def fragment(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", next_header, 0, (offset // 8) << 3 | int(more), ident)


def build(kind: str, src: bytes, dst: bytes) -> list:
    echo = echo_request(src, dst)
    if kind == "bad_payload_len":
        # Payload Length says 1000 bytes; the buffer holds far fewer.
        return [ipv6(src, dst, ICMPV6, echo, payload_len=1000)]
    if kind == "truncated_ext":
        # A destination options header saying 16 bytes, of which 8 are there.
        return [ipv6(src, dst, DEST_OPTIONS, bytes([ICMPV6, 1, 1, 4, 0, 0, 0, 0]))]
    if kind == "routing_type0":
        # RFC 5095: a type 0 routing header with a segment left.
        return [ipv6(src, dst, ROUTING, bytes([ICMPV6, 0, 0, 1, 0, 0, 0, 0]) + echo)]
    if kind == "unknown_next_header":
        return [ipv6(src, dst, 253, b"experimental")]
    if kind == "unknown_option":
        # Option type 0x9e: high bits 10, "discard and send Parameter Problem".
        return [ipv6(src, dst, DEST_OPTIONS, options(ICMPV6, 0x9E) + echo)]
    if kind == "too_many_headers":
        # Nine destination options headers: one past the stack's bound of 8.
        chain = b"".join(options(DEST_OPTIONS, 1) for _ in range(8)) + options(ICMPV6, 1)
        return [ipv6(src, dst, DEST_OPTIONS, chain + echo)]
    if kind == "overlapping_fragments":
        # Bytes 8..16 arrive twice with different extents (RFC 5722).
        data = bytes(range(24))
        return [
            ipv6(src, dst, FRAGMENT, fragment(ICMPV6, 0, True, 0x4242) + data[:16]),
            ipv6(src, dst, FRAGMENT, fragment(ICMPV6, 8, True, 0x4242) + data[8:24]),
        ]
    if kind == "incomplete_chain":
        # RFC 7112: a first fragment whose destination options header is cut.
        return [ipv6(src, dst, FRAGMENT, fragment(DEST_OPTIONS, 0, True, 0x4343) + bytes([ICMPV6, 1, 1, 4, 0, 0, 0, 0]))]
    if kind == "fragment_bad_length":
        # A non-final fragment of 12 bytes: not a multiple of 8 (RFC 8200 §4.5).
        return [ipv6(src, dst, FRAGMENT, fragment(ICMPV6, 8, True, 0x4444) + bytes(12))]
    raise SystemExit(f"unknown packet kind {kind!r}")


PACKETS = [
    "bad_payload_len",
    "truncated_ext",
    "routing_type0",
    "unknown_next_header",
    "unknown_option",
    "too_many_headers",
    "overlapping_fragments",
    "incomplete_chain",
    "fragment_bad_length",
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="tun0")
    ap.add_argument("--src", default="2001:2::1")
    ap.add_argument("--dst", default="2001:2::2")
    ap.add_argument("kinds", nargs="+")
    args = ap.parse_args()
    kinds = PACKETS if args.kinds == ["all"] else args.kinds
    src = socket.inet_pton(socket.AF_INET6, args.src)
    dst = socket.inet_pton(socket.AF_INET6, args.dst)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6))
    for kind in kinds:
        packets = build(kind, src, dst)
        for pkt in packets:
            n = s.sendto(pkt, (args.dev, ETH_P_IPV6))
            if n != len(pkt):
                print(f"FAIL: {kind}: sendto wrote {n} of {len(pkt)} bytes", file=sys.stderr)
                return 1
        print(f"SENT {kind} {sum(len(p) for p in packets)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
