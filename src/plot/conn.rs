//! From frames to TCP connections: which segments belong together, who opened,
//! and each segment in the numbers a reader wants — relative sequence and
//! acknowledgment numbers (as tshark shows them: the SYN is 0, the first data
//! byte 1), the window scaled, SACK blocks, retransmissions and losses marked.
//!
//! * **A connection** is the packets of one pair of endpoints (address, port)
//!   seen on one interface. A capture with several interfaces that see the
//!   same connection (the simulator writes one per host) is plotted from the
//!   first interface that saw it; the others serve to find losses (below). A SYN
//!   with a new initial sequence number after the old connection closed starts a
//!   new connection on the same endpoints.
//! * **The client** sent the first SYN without ACK; without one (a capture that
//!   started mid-connection), whoever sent the first packet.
//! * **Relative numbers** count from each side's initial sequence number (its
//!   SYN's), or from the first sequence number seen when the SYN is missing.
//! * **The window** is scaled by the shift the side announced in its SYN, when
//!   both SYNs carried the option (RFC 7323 §2.2); a SYN's own window never is.
//! * **A retransmission** is a segment that occupies sequence space (data, SYN
//!   or FIN) starting below the highest sequence number its side sent before
//!   (tcptrace's rule).
//! * **A drop** is a packet with a comment that says so (`dropped: …`, as tunstack
//!   writes the reason a host discarded it), or, with a second interface that saw
//!   the connection, a packet the first interface saw and the second never did:
//!   lost on the way.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

use super::read::{Capture, Frame};
pub use crate::wire::tcp::Flags;

/// A segment's flags as tshark writes them: `[SYN, ACK]`.
pub fn flags_label(flags: Flags) -> String {
    let names = [(flags.syn, "SYN"), (flags.fin, "FIN"), (flags.rst, "RST"), (flags.psh, "PSH"), (flags.ack, "ACK")];
    let on: Vec<&str> = names.iter().filter(|(set, _)| *set).map(|(_, name)| *name).collect();
    format!("[{}]", on.join(", "))
}

/// One TCP segment of a connection, in relative numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Seconds since the connection's first packet.
    pub time: f64,
    /// Sent by the client (else by the server).
    pub from_client: bool,
    /// Relative sequence number of the first byte (of the SYN for a SYN).
    pub seq: u32,
    /// Relative acknowledgment number (0 without the ACK flag).
    pub ack: u32,
    /// Payload bytes.
    pub len: u32,
    pub flags: Flags,
    /// The receive window it announces, scaled, in bytes.
    pub window: u64,
    /// SACK blocks, relative to the other side's numbers.
    pub sack: Vec<(u32, u32)>,
    /// It repeats sequence space sent before.
    pub retransmission: bool,
    /// Why it never arrived, if it did not: the capture's comment or "lost".
    pub dropped: Option<String>,
}

impl Segment {
    /// Sequence space it occupies: its bytes, and one each for SYN and FIN.
    pub fn space(&self) -> u32 {
        self.len + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }
}

/// One TCP connection as a capture saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Whoever opened it (see the module doc).
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The name of the interface it is seen on.
    pub interface: String,
    /// Its segments in capture order.
    pub segments: Vec<Segment>,
}

/// A TCP segment as the wire has it, before the numbers are made relative.
#[derive(Clone, Debug)]
struct Raw {
    time_ns: u128,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    len: u32,
    flags: Flags,
    window: u16,
    wscale: Option<u8>,
    sack: Vec<(u32, u32)>,
    comment: Option<String>,
}

impl Raw {
    /// What identifies the same packet on two interfaces.
    fn key(&self) -> (SocketAddr, u32, u32, u32, [bool; 6], u16) {
        let f = self.flags;
        (self.src, self.seq, self.ack, self.len, [f.syn, f.ack, f.fin, f.rst, f.psh, f.urg], self.window)
    }
}

fn parse(frame: &Frame) -> Option<Raw> {
    let packet = SlicedPacket::from_ip(&frame.ip).ok()?;
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match packet.net? {
        NetSlice::Ipv4(ip) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        NetSlice::Ipv6(ip) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        NetSlice::Arp(_) => return None,
    };
    let TransportSlice::Tcp(tcp) = packet.transport? else { return None };
    let (mut wscale, mut sack) = (None, Vec::new());
    for option in tcp.options_iterator().flatten() {
        match option {
            TcpOptionElement::WindowScale(shift) => wscale = Some(shift.min(14)),
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                sack.push(first);
                sack.extend(rest.iter().flatten());
            }
            _ => {}
        }
    }
    Some(Raw {
        time_ns: frame.time_ns,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        len: u32::try_from(tcp.payload().len()).unwrap_or(u32::MAX),
        flags: Flags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst(), psh: tcp.psh(), urg: tcp.urg() },
        window: tcp.window_size(),
        wscale,
        sack,
        comment: frame.comment.clone(),
    })
}

/// The same endpoints either way round.
fn pair(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// A connection being gathered: its packets on its own interface, and the
/// packets of the same connection on the others (to find losses).
struct Gathering {
    interface: u32,
    client: SocketAddr,
    /// The client's initial sequence number, when its SYN was seen.
    client_isn: Option<u32>,
    closed: bool,
    packets: Vec<Raw>,
    elsewhere: Vec<Raw>,
}

/// Every TCP connection in `capture`, in the order their first packet appears.
pub fn connections(capture: &Capture) -> Vec<Connection> {
    let mut gathered: Vec<Gathering> = Vec::new();
    let mut open: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for frame in &capture.frames {
        let Some(raw) = parse(frame) else { continue };
        let key = pair(raw.src, raw.dst);
        let opening = raw.flags.syn && !raw.flags.ack;
        let index = match open.get(&key).copied() {
            // A new ISN after the old connection closed: a new connection.
            Some(i) if opening && gathered[i].closed && gathered[i].client_isn != Some(raw.seq) => None,
            found => found,
        };
        let index = index.unwrap_or_else(|| {
            gathered.push(Gathering {
                interface: frame.interface,
                client: if raw.flags.syn && raw.flags.ack { raw.dst } else { raw.src },
                client_isn: opening.then_some(raw.seq),
                closed: false,
                packets: Vec::new(),
                elsewhere: Vec::new(),
            });
            open.insert(key, gathered.len() - 1);
            gathered.len() - 1
        });
        let g = &mut gathered[index];
        if frame.interface != g.interface {
            g.elsewhere.push(raw);
            continue;
        }
        if raw.flags.rst || raw.flags.fin {
            g.closed = true;
        }
        g.packets.push(raw);
    }
    gathered
        .into_iter()
        .filter(|g| !g.packets.is_empty())
        .map(|g| {
            let name =
                capture.interfaces.get(g.interface as usize).cloned().unwrap_or_else(|| format!("if{}", g.interface));
            relative(g, name)
        })
        .collect()
}

/// Turn the gathered packets into [`Segment`]s: numbers relative, windows
/// scaled, retransmissions and losses found.
fn relative(g: Gathering, interface: String) -> Connection {
    let client = g.client;
    let server = g.packets.iter().find(|p| p.src == client).map_or_else(|| g.packets[0].src, |p| p.dst);
    // Each side's base: its SYN's sequence number, else the first one seen.
    let base = |from_client: bool| {
        let mine = || g.packets.iter().filter(move |p| (p.src == client) == from_client);
        mine().find(|p| p.flags.syn).or_else(|| mine().next()).map_or(0, |p| p.seq)
    };
    let (client_base, server_base) = (base(true), base(false));
    let syn_scale = |from_client: bool| {
        g.packets.iter().find(|p| p.flags.syn && (p.src == client) == from_client).and_then(|p| p.wscale)
    };
    let (client_scale, server_scale) = match (syn_scale(true), syn_scale(false)) {
        (Some(c), Some(s)) => (c, s),
        _ => (0, 0),
    };
    // How often each packet was seen on the other interfaces.
    let mut seen_elsewhere: HashMap<_, usize> = HashMap::new();
    for p in &g.elsewhere {
        *seen_elsewhere.entry(p.key()).or_default() += 1;
    }
    let check_losses = !g.elsewhere.is_empty();
    let start = g.packets[0].time_ns;
    let (mut client_max, mut server_max): (Option<u32>, Option<u32>) = (None, None);
    let segments = g
        .packets
        .iter()
        .map(|p| {
            let from_client = p.src == client;
            let (mine, theirs, scale) = if from_client {
                (client_base, server_base, client_scale)
            } else {
                (server_base, client_base, server_scale)
            };
            let seq = p.seq.wrapping_sub(mine);
            let flags = p.flags;
            let space = p.len + u32::from(flags.syn) + u32::from(flags.fin);
            let highest = if from_client { &mut client_max } else { &mut server_max };
            let retransmission = space > 0 && highest.is_some_and(|h| seq < h);
            if space > 0 {
                *highest = Some(highest.map_or(seq + space, |h| h.max(seq + space)));
            }
            let lost = check_losses
                && match seen_elsewhere.get_mut(&p.key()) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        false
                    }
                    _ => true,
                };
            let dropped = match &p.comment {
                Some(c) if c.contains("dropped") => Some(c.clone()),
                _ if lost => Some("lost (not seen on the other interface)".to_string()),
                _ => None,
            };
            Segment {
                time: (p.time_ns.saturating_sub(start)) as f64 / 1e9,
                from_client,
                seq,
                ack: if flags.ack { p.ack.wrapping_sub(theirs) } else { 0 },
                len: p.len,
                flags,
                window: if flags.syn { u64::from(p.window) } else { u64::from(p.window) << scale },
                sack: p.sack.iter().map(|&(l, r)| (l.wrapping_sub(theirs), r.wrapping_sub(theirs))).collect(),
                retransmission,
                dropped,
            }
        })
        .collect();
    Connection { client, server, interface, segments }
}
