//! Pictures of TCP connections from a capture: what `tunstack plot` draws.
//!
//! For each TCP connection in a pcap or pcapng file (ours, or tcpdump's and
//! tshark's), one SVG document holds, top to bottom:
//!
//! * a **time-sequence graph** for each direction that carried data
//!   ([`timeseq`]): data segments, the ACK line, the receive window, SACK blocks,
//!   retransmissions and drops — the picture tcptrace and Wireshark's "Stevens"
//!   graph draw;
//! * a **ladder diagram** of its opening and close ([`ladder`]): the segments
//!   between the two hosts with their flags, relative sequence numbers and the
//!   states they move each side to.
//!
//! The pipeline is three plain steps, each its own file: [`read`] turns a file
//! into IP packets, [`conn`] groups them into connections in relative numbers,
//! and [`timeseq`]/[`ladder`] draw with [`svg`], a writer of a few elements.
//! Nothing here runs the stack: a plot is made from bytes alone, so it can
//! explain any capture. Packets are parsed with `etherparse`; the flags are
//! `wire::tcp::Flags`.

pub mod conn;
pub mod ladder;
pub mod read;
pub mod svg;
pub mod timeseq;

use std::io;

pub use conn::{connections, Connection, Segment};
pub use read::{read_capture, Capture};

use svg::Svg;

/// Space between the pictures of one document.
const GAP: f64 = 20.0;

/// What a rendering drew, for a one-line report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    pub connections: usize,
    pub data_segments: usize,
    pub retransmissions: usize,
    pub drops: usize,
}

/// The SVG document for every TCP connection in the capture file `bytes`, and
/// what it drew. A capture without TCP is an error that says so.
pub fn render(bytes: &[u8]) -> io::Result<(String, Drawn)> {
    let capture = read_capture(bytes)?;
    let conns = connections(&capture);
    if conns.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no TCP segment in the capture ({} packets)", capture.frames.len()),
        ));
    }
    let mut doc = Svg::new(timeseq::WIDTH, 0.0);
    let mut drawn = Drawn { connections: conns.len(), ..Drawn::default() };
    for (i, conn) in conns.iter().enumerate() {
        let name = format!("Connection {}: {} → {} (on {})", i + 1, conn.client, conn.server, conn.interface);
        let with_data: Vec<bool> = [true, false]
            .into_iter()
            .filter(|&c| conn.segments.iter().any(|s| s.from_client == c && s.len > 0))
            .collect();
        let directions = if with_data.is_empty() { vec![true] } else { with_data };
        for from_client in directions {
            let (from, to) = if from_client { (conn.client, conn.server) } else { (conn.server, conn.client) };
            let subtitle = format!("time-sequence graph of the data {from} → {to}");
            let part = timeseq::draw(conn, from_client, &name, &subtitle);
            let y = doc.height();
            doc.set_height(y + part.height() + GAP);
            doc.place(part, y);
        }
        let part = ladder::draw(conn, &name);
        let y = doc.height();
        doc.set_height(y + part.height() + GAP);
        doc.place(part, y);
        for s in &conn.segments {
            drawn.data_segments += usize::from(s.len > 0);
            drawn.retransmissions += usize::from(s.len > 0 && s.retransmission);
            drawn.drops += usize::from(s.dropped.is_some());
        }
    }
    Ok((doc.finish(), drawn))
}
