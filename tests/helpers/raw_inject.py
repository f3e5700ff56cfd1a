#!/usr/bin/env python3
"""Writes hand-built (mostly malformed) IPv4 packets into a TUN from the kernel side.

An AF_PACKET/SOCK_DGRAM socket bound to a TUN device hands the bytes given to
sendto() unchanged to the program reading the TUN (the stack), with no
validation by the kernel: the way to feed the stack packets the kernel's own
IP layer would never produce.  Every field not meant to be wrong is valid
(header checksum, UDP checksum, lengths), so each packet is bad in exactly one
way.

usage: raw_inject.py [--dev tun0] [--src 198.18.0.1] [--dst 198.18.0.2] KIND [KIND ...]
KIND is one of the names in PACKETS below, or `all`.  Prints `SENT KIND LEN`
per packet.
"""
import argparse
import socket
import struct
import sys

ETH_P_IP = 0x0800


def checksum(data: bytes) -> int:
    """RFC 1071 internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_header(src: bytes, dst: bytes, proto: int, payload_len: int, *, ident: int = 0x5151,
                total_len=None, version: int = 4, bad_checksum: bool = False) -> bytes:
    tl = 20 + payload_len if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | 5, 0, tl, ident, 0x4000, 64, proto, 0, src, dst)
    csum = checksum(hdr)
    if bad_checksum:
        csum ^= 0x1234  # never equal to the right value
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:]


def udp_datagram(src: bytes, dst: bytes, sport: int, dport: int, data: bytes, *, bad_checksum: bool = False) -> bytes:
    length = 8 + len(data)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 17, length)
    body = struct.pack("!HHHH", sport, dport, length, 0) + data
    csum = checksum(pseudo + body) or 0xFFFF
    if bad_checksum:
        csum ^= 0x0F0F  # wrong, and never 0 ("no checksum")
        if csum == 0:
            csum = 0x0F0F
    return body[:6] + struct.pack("!H", csum) + body[8:]


def build(kind: str, src: bytes, dst: bytes) -> bytes:
    udp = udp_datagram(src, dst, 40000, 7, b"malformed?\n")
    if kind == "bad_ip_checksum":
        # Otherwise a valid UDP datagram to the echo port.
        return ipv4_header(src, dst, 17, len(udp), bad_checksum=True) + udp
    if kind == "truncated":
        # Only 12 bytes: shorter than the 20-byte minimum IPv4 header.
        return (ipv4_header(src, dst, 17, len(udp)) + udp)[:12]
    if kind == "bad_udp_checksum":
        bad = udp_datagram(src, dst, 40001, 7, b"bad udp checksum\n", bad_checksum=True)
        return ipv4_header(src, dst, 17, len(bad)) + bad
    if kind == "bad_total_len":
        # Valid header (checksum computed over the lying total length) claiming
        # 1000 bytes while the buffer holds 20 + len(udp).
        return ipv4_header(src, dst, 17, len(udp), total_len=1000) + udp
    if kind == "bad_version":
        # Version 5: neither IPv4 nor IPv6; header otherwise valid.
        return ipv4_header(src, dst, 17, len(udp), version=5) + udp
    if kind == "good_echo":
        # A well-formed datagram to the echo port (sanity check of the injector).
        return ipv4_header(src, dst, 17, len(udp)) + udp
    raise SystemExit(f"unknown packet kind {kind!r}")


PACKETS = ["bad_ip_checksum", "truncated", "bad_udp_checksum", "bad_total_len", "bad_version"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="tun0")
    ap.add_argument("--src", default="198.18.0.1")
    ap.add_argument("--dst", default="198.18.0.2")
    ap.add_argument("kinds", nargs="+")
    args = ap.parse_args()
    kinds = PACKETS if args.kinds == ["all"] else args.kinds
    src, dst = socket.inet_aton(args.src), socket.inet_aton(args.dst)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    for kind in kinds:
        pkt = build(kind, src, dst)
        n = s.sendto(pkt, (args.dev, ETH_P_IP))
        if n != len(pkt):
            print(f"FAIL: {kind}: sendto wrote {n} of {len(pkt)} bytes", file=sys.stderr)
            return 1
        print(f"SENT {kind} {len(pkt)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
