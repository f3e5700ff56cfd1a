#!/usr/bin/env python3
"""Turn the packets the kernel sent in a tunstack pcapng capture into fuzz seeds.

usage: pcap_to_seeds.py CAPTURE.pcapng SEEDS_DIR

`tunstack serve --pcap` writes one LINKTYPE_RAW interface whose Enhanced Packet
Blocks say, in their epb_flags, whether a packet went in (from the kernel, to the
stack) or out. This script reads that format itself (standard library only, no
tshark), keeps the inbound IPv4 packets, and writes under SEEDS_DIR:

  ip_input/kernel_<kind>_<n>    a few packets of each kind (ICMP echo, each
                                fragment position, UDP, each TCP flag pattern),
                                in ip_input's layout: a flags byte (0: send the
                                packet as it is), a 32-bit little-endian time in
                                milliseconds, the packet;
  wire_parse/kernel_<kind>      one packet of each kind as it is, and its TCP
                                segment alone (wire_parse checks a TCP segment's
                                checksum with the same addresses, 198.18.0.1 to
                                198.18.0.2, so these reach the emit round trip);
  tcp_conn/kernel_<flow>        each TCP connection's segments after the SYN, as
                                tcp_conn `Op::Segment`s (flags, window, options
                                and payload length as the kernel sent them; sequence
                                and acknowledgement numbers relative to what each
                                side had sent), with the time between them as
                                `Op::Advance` and a `Recv` after each data segment;
  two_stacks/kernel_<flow>      each flow's packets injected into host B (the
                                kernel's 198.18.0.1 -> 198.18.0.2 are the
                                simulator's A -> B), with B listening on TCP 80
                                and bound to UDP 7, the time between them as
                                `Op::Run`;
  two_stacks/program_<name>     a few two-host programs (connect, write both ways,
                                half-close, close; UDP; the same over a faulty
                                link and with small buffers and MTU).

Old kernel_* and program_* files are replaced; other seeds are left alone.

The seed layouts follow the fuzz targets' input types as the `arbitrary` crate
(1.x) decodes them: integers little-endian, `bool` one byte (low bit), `Option`
a bool then the value, an enum's variant a u32 `x` read as `(x * count) >> 32`,
and the final `Vec` of actions one byte (odd: another follows) before each
action. If a target's `Op` changes, change the encoders below to match (check
with `cargo fuzz fmt <target> seeds/<target>/<file>`).
"""
import os
import struct
import sys

INBOUND = 1

# ---- pcapng ---------------------------------------------------------------


def read_pcapng(path):
    """Yield (time in ns, inbound?, packet bytes) for each Enhanced Packet Block."""
    data = open(path, "rb").read()
    endian = "<"
    resolution = {}  # interface id -> seconds per timestamp unit
    interfaces = 0
    pos = 0
    while pos + 12 <= len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            # Section Header Block: its byte-order magic decides the endianness.
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = 0
        block_type, total = struct.unpack_from(endian + "II", data, pos)
        if total < 12 or pos + total > len(data):
            raise ValueError(f"corrupt pcapng block at offset {pos}")
        body = data[pos + 8 : pos + total - 4]
        if block_type == 1:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            if linktype != 101:
                raise ValueError(f"interface {interfaces} has link type {linktype}, expected 101 (raw IP)")
            units = 1e-6
            for code, value in options(body[8:], endian):
                if code == 9 and value:  # if_tsresol
                    r = value[0]
                    units = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
            resolution[interfaces] = units
            interfaces += 1
        elif block_type == 6:  # Enhanced Packet Block
            iface, ts_high, ts_low, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            packet = body[20 : 20 + caplen]
            flags = 0
            for code, value in options(body[20 + (caplen + 3) // 4 * 4 :], endian):
                if code == 2 and len(value) == 4:  # epb_flags
                    flags = struct.unpack(endian + "I", value)[0]
            ns = int(((ts_high << 32) | ts_low) * resolution.get(iface, 1e-6) * 1e9)
            yield ns, (flags & 3) == INBOUND, packet
        pos += total


def options(raw, endian):
    pos = 0
    while pos + 4 <= len(raw):
        code, length = struct.unpack_from(endian + "HH", raw, pos)
        if code == 0:
            return
        yield code, raw[pos + 4 : pos + 4 + length]
        pos += 4 + (length + 3) // 4 * 4


# ---- IPv4, TCP, UDP -------------------------------------------------------


class Ip:
    def __init__(self, raw):
        ihl = (raw[0] & 0x0F) * 4
        self.raw = raw
        self.proto = raw[9]
        frag = struct.unpack_from("!H", raw, 6)[0]
        self.more_fragments = bool(frag & 0x2000)
        self.offset = (frag & 0x1FFF) * 8
        self.src, self.dst = raw[12:16], raw[16:20]
        self.payload = raw[ihl : struct.unpack_from("!H", raw, 2)[0]]

    def is_fragment(self):
        return self.more_fragments or self.offset != 0


class Tcp:
    def __init__(self, raw):
        self.sport, self.dport, self.seq, self.ack = struct.unpack_from("!HHII", raw, 0)
        offset = (raw[12] >> 4) * 4
        self.flags = raw[13]
        self.window = struct.unpack_from("!H", raw, 14)[0]
        self.payload = raw[offset:]
        self.mss = self.wscale = self.ts = None
        self.sack_permitted = False
        self.sacks = []
        opts, i = raw[20:offset], 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            length, value = opts[i + 1], opts[i + 2 : i + opts[i + 1]]
            if kind == 2 and length == 4:
                self.mss = struct.unpack("!H", value)[0]
            elif kind == 3 and length == 3:
                self.wscale = value[0]
            elif kind == 4:
                self.sack_permitted = True
            elif kind == 5:
                self.sacks = [struct.unpack_from("!II", value, j) for j in range(0, len(value) - 7, 8)]
            elif kind == 8 and length == 10:
                self.ts = struct.unpack("!II", value)
            i += length

    def seg_len(self):
        return len(self.payload) + (self.flags & 1) + ((self.flags >> 1) & 1)

    def flag_names(self):
        names = [n for bit, n in ((2, "syn"), (1, "fin"), (4, "rst"), (8, "psh"), (16, "ack")) if self.flags & bit]
        return "_".join(names) + ("_data" if self.payload else "")


def kind_of(ip):
    """A short name for what a packet is, for ip_input's seed names."""
    if ip.is_fragment():
        where = "first" if ip.offset == 0 else ("middle" if ip.more_fragments else "last")
        return f"proto{ip.proto}_fragment_{where}"
    if ip.proto == 1 and ip.payload:
        return f"icmp_type{ip.payload[0]}"
    if ip.proto == 17 and len(ip.payload) >= 8:
        return f"udp_port{struct.unpack_from('!H', ip.payload, 2)[0]}"
    if ip.proto == 6 and len(ip.payload) >= 20:
        return "tcp_" + Tcp(ip.payload).flag_names()
    return f"proto{ip.proto}"


def flow_of(ip):
    """Which conversation a packet belongs to, for the per-flow seeds."""
    if ip.proto == 1:
        return "icmp"
    if ip.is_fragment() and ip.offset != 0:
        return None  # joined to its first fragment's flow by the caller
    if ip.proto == 17:
        return f"udp_{struct.unpack_from('!H', ip.payload, 2)[0]}"
    if ip.proto == 6:
        tcp = Tcp(ip.payload)
        return f"tcp_{tcp.dport}_{tcp.sport}"
    return None


# ---- arbitrary's encodings ------------------------------------------------


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def i16(v):
    return struct.pack("<h", max(-32768, min(32767, v)))


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v)


def boolean(v):
    return u8(1 if v else 0)


def option(value, encode):
    return boolean(False) if value is None else boolean(True) + encode(value)


def variant(index, count):
    """The u32 that `arbitrary`'s derive reads as variant `index` of `count`."""
    return u32(-(-(index << 32) // count))


def actions(ops):
    """A trailing `Vec` of actions: a continue byte before each."""
    return b"".join(b"\x01" + op for op in ops)


def relative(a, b):
    """a - b as a signed 32-bit sequence-number difference."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


# ---- tcp_conn: `enum Op` in fuzz/fuzz_targets/tcp_conn.rs ------------------

TCP_CONN_OPS = 8  # Segment, Raw, Advance, Send, Recv, Shutdown, Close, Accept


def tc_segment(tcp, seq_delta, ack_delta, stack_nxt):
    sacks = [(relative(left, stack_nxt), (right - left) & 0xFFFF) for left, right in tcp.sacks[:3]]
    sacks += [None] * (3 - len(sacks))
    return (
        variant(0, TCP_CONN_OPS)
        + boolean(False)
        + i16(seq_delta)
        + i16(ack_delta)
        + u8(tcp.flags & 0x3F)
        + u16(tcp.window)
        + option(tcp.mss, u16)
        + option(tcp.wscale, u8)
        + option(tcp.ts, lambda t: u32(t[0]) + u32(t[1]))
        + boolean(tcp.sack_permitted)
        + b"".join(option(s, lambda s: i16(s[0]) + u16(s[1])) for s in sacks)
        + u16(len(tcp.payload))
    )


def tc_advance(ms):
    return variant(2, TCP_CONN_OPS) + u16(min(ms, 0xFFFF))


def tc_recv(n):
    return variant(4, TCP_CONN_OPS) + u16(n)


def tc_send(n):
    return variant(3, TCP_CONN_OPS) + u16(n)


def tcp_conn_seed(packets):
    """packets: [(ns, inbound, Ip)] of one TCP connection, both directions."""
    ops, last_ns = [], None
    kernel_nxt = stack_nxt = None
    sent_reply = False
    for ns, inbound, ip in packets:
        tcp = Tcp(ip.payload)
        end = (tcp.seq + tcp.seg_len()) & 0xFFFFFFFF
        if not inbound:
            if stack_nxt is None or relative(end, stack_nxt) > 0:
                stack_nxt = end
            continue
        if tcp.flags & 2:  # the SYN: the harness makes its own handshake
            kernel_nxt = end
            continue
        if kernel_nxt is None or stack_nxt is None:
            continue
        if last_ns is not None and ns - last_ns >= 1_000_000:
            ops.append(tc_advance((ns - last_ns) // 1_000_000))
        last_ns = ns
        ops.append(tc_segment(tcp, relative(tcp.seq, kernel_nxt), relative(tcp.ack, stack_nxt), stack_nxt))
        if relative(end, kernel_nxt) > 0:
            kernel_nxt = end
        if tcp.payload:
            ops.append(tc_recv(4096))
            if not sent_reply:
                ops.append(tc_send(len(tcp.payload)))
                sent_reply = True
        if len(ops) >= 60:
            break
    return actions(ops) if ops else None


# ---- two_stacks: `struct Input` in fuzz/fuzz_targets/two_stacks.rs ---------

TWO_STACKS_OPS = 18  # Run, Listen, …, Inject (15), Replay, Faults
A, B = 0, 1


def side(s):
    return variant(s, 2)


def host_setup(timestamps=True, sack=True, window_scaling=True, small_buffers=False, mtu=0):
    return boolean(timestamps) + boolean(sack) + boolean(window_scaling) + boolean(small_buffers) + u8(mtu)


def faults(loss=0, duplicate=0, reorder=0, corrupt=0, latency_ms=1, jitter_ms=0, mtu=None, queue_limit=None):
    return bytes([loss, duplicate, reorder, corrupt, latency_ms, jitter_ms]) + option(mtu, u16) + option(queue_limit, u8)


def two_stacks_input(ops, seed=1, a=None, b=None, link=None):
    return (
        u64(seed)
        + (a or host_setup())
        + (b or host_setup())
        + (link or faults())
        + actions(ops)
    )


def op(index, *fields):
    return variant(index, TWO_STACKS_OPS) + b"".join(fields)


def run(ms):
    return op(0, u16(min(ms, 0xFFFF)))


def listen(s, port_index, auto_accept=True):
    return op(1, side(s), u8(port_index), boolean(auto_accept))


def connect(s, port_index):
    return op(2, side(s), u8(port_index))


def write(s, conn, n):
    return op(4, side(s), u8(conn), u16(n))


def read(s, conn, n):
    return op(5, side(s), u8(conn), u16(n))


def shutdown(s, conn, how):  # how: 0 read, 1 write, 2 both
    return op(6, side(s), u8(conn), u8(how))


def close(s, conn):
    return op(7, side(s), u8(conn))


def udp_bind(s, port_index):  # 0: port 7, 1: port 8, 2: ephemeral
    return op(11, side(s), u8(port_index))


def udp_send(s, sock, port_index, n, connect_first=False):
    return op(12, side(s), u8(sock), u8(port_index), u16(n), boolean(connect_first))


def udp_recv(s, sock):
    return op(13, side(s), u8(sock))


def inject(s, packet):
    return op(15, side(s), u8(0), u16(len(packet)) + packet)


def kernel_flow_seed(packets):
    """The kernel's packets of one flow, injected into B, time passing between."""
    ops = [listen(B, 0), udp_bind(B, 0)]
    last_ns = None
    for ns, _, ip in packets:
        if last_ns is not None and ns - last_ns >= 1_000_000:
            ops.append(run((ns - last_ns) // 1_000_000))
        last_ns = ns
        ops.append(inject(B, ip.raw))
        if ip.proto == 17:
            ops.append(udp_recv(B, 0))
        elif ip.proto == 6 and Tcp(ip.payload).payload:
            ops.append(read(B, 0, 4096))
        if len(ops) >= 60:
            break
    ops.append(run(1000))
    return two_stacks_input(ops)


def program_seeds():
    """Two-host programs: what a test of two stacks would do."""
    both_ways = [
        listen(B, 0),
        connect(A, 0),
        run(10),
        write(A, 0, 5000),
        run(20),
        read(B, 0, 8000),
        write(B, 0, 3000),
        run(20),
        read(A, 0, 8000),
        shutdown(A, 0, 1),
        run(20),
        read(B, 0, 100),
        close(B, 0),
        run(50),
        read(A, 0, 100),
        close(A, 0),
        run(3000),
    ]
    udp = [
        udp_bind(B, 0),
        udp_bind(A, 2),
        udp_send(A, 0, 0, 100),
        udp_send(A, 0, 0, 3000),
        udp_send(A, 0, 2, 10, True),
        run(10),
        udp_recv(B, 0),
        udp_recv(B, 0),
        udp_recv(A, 0),
    ]
    bulk = [listen(B, 1), connect(A, 1), run(100)]
    for _ in range(6):
        bulk += [write(A, 0, 16000), run(200), read(B, 0, 16000)]
    bulk += [shutdown(A, 0, 2), run(500), read(B, 0, 16000), close(B, 0), close(A, 0), run(5000)]
    lossy = faults(loss=40, duplicate=20, reorder=40, corrupt=10, latency_ms=20, jitter_ms=5)
    return {
        "program_tcp_both_ways": two_stacks_input(both_ways),
        "program_udp": two_stacks_input(udp),
        "program_tcp_bulk_lossy": two_stacks_input(bulk, seed=7, link=lossy),
        "program_tcp_small_buffers_mtu_296": two_stacks_input(
            bulk, seed=3, a=host_setup(small_buffers=True, mtu=3), b=host_setup(timestamps=False, mtu=3)
        ),
    }


# ---- main -----------------------------------------------------------------


def write_seeds(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.startswith(("kernel_", "program_")):
            os.remove(os.path.join(directory, name))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{directory}: {len(seeds)} seeds, {sum(len(d) for d in seeds.values())} bytes")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    capture, out = sys.argv[1], sys.argv[2]
    packets = [(ns, inbound, Ip(raw)) for ns, inbound, raw in read_pcapng(capture) if raw and raw[0] >> 4 == 4]
    inbound = [p for p in packets if p[1]]
    if not inbound:
        sys.exit(f"{capture}: no inbound IPv4 packets")

    # ip_input: at most two packets of each kind.
    per_kind, ip_seeds = {}, {}
    for _, _, ip in inbound:
        kind = kind_of(ip)
        n = per_kind.get(kind, 0)
        if n < 2:
            per_kind[kind] = n + 1
            ip_seeds[f"kernel_{kind}_{n}"] = u8(0) + u32(1000) + ip.raw

    # wire_parse: one packet of each kind, and each TCP segment kind alone.
    wire_seeds = {}
    for name, data in ip_seeds.items():
        if name.endswith("_0"):
            ip = Ip(data[5:])
            wire_seeds[name[:-2]] = ip.raw
            if ip.proto == 6 and not ip.is_fragment():
                wire_seeds[name[:-2] + "_segment"] = ip.payload

    # Flows, in both directions (tcp_conn needs what the stack sent, too); a
    # fragment after the first belongs to the flow of the packet before it.
    flows, last = {}, None
    for ns, is_in, ip in packets:
        name = flow_of(ip)
        if not is_in and name and not ip.is_fragment():
            # Named from the stack's port, as the inbound packets are.
            if ip.proto == 6:
                t = Tcp(ip.payload)
                name = f"tcp_{t.sport}_{t.dport}"
            elif ip.proto == 17:
                name = f"udp_{struct.unpack_from('!H', ip.payload, 0)[0]}"
        name = name or last
        last = name
        if name:
            flows.setdefault(name, []).append((ns, is_in, ip))

    tcp_seeds, two_seeds = {}, program_seeds()
    for name, flow in flows.items():
        if name.startswith("tcp_"):
            seed = tcp_conn_seed(flow)
            if seed:
                tcp_seeds[f"kernel_{name}"] = seed
        flow_in = [p for p in flow if p[1]]
        if flow_in:
            two_seeds[f"kernel_{name}"] = kernel_flow_seed(flow_in)

    write_seeds(os.path.join(out, "ip_input"), ip_seeds)
    write_seeds(os.path.join(out, "wire_parse"), wire_seeds)
    write_seeds(os.path.join(out, "tcp_conn"), tcp_seeds)
    write_seeds(os.path.join(out, "two_stacks"), two_seeds)


if __name__ == "__main__":
    main()
