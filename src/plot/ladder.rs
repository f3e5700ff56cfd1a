//! The ladder (message-sequence) diagram of a connection's opening and close:
//! the client's lane on the left, the server's on the right, time downwards,
//! one arrow per segment that opens, closes or changes a state, with its flags
//! and relative numbers, and each side's state as RFC 9293's diagram (§3.3.2)
//! names it after the segment. The segments in between (the data) are one grey
//! line: `… 40 segments (2 retransmitted) …`.
//!
//! The states are *inferred* from the capture, as a person reading it would: a
//! SYN sent moves CLOSED to SYN-SENT, a SYN received moves LISTEN to
//! SYN-RECEIVED, the ACK of a SYN makes ESTABLISHED, a FIN sent makes FIN-WAIT-1
//! (or LAST-ACK after the peer's FIN), its ACK FIN-WAIT-2 (or CLOSED), a FIN
//! received CLOSE-WAIT (or TIME-WAIT, or CLOSING when ours is not yet
//! acknowledged), a RST CLOSED. A segment dropped on the way changes only its
//! sender's state.

use super::conn::{flags_label, Connection, Segment};
use super::svg::Svg;
use super::timeseq::format_time;

pub const WIDTH: f64 = 960.0;
const CLIENT_X: f64 = 300.0;
const SERVER_X: f64 = 700.0;
const TOP: f64 = 90.0;
const ROW: f64 = 38.0;
const SLANT: f64 = 22.0;

/// One side's inferred state.
#[derive(Clone, Copy, Debug)]
struct Side {
    state: &'static str,
    /// The relative sequence number just after our FIN, once sent.
    fin_end: Option<u32>,
}

/// What one segment did to the sender's and the receiver's state.
fn step(sender: &mut Side, receiver: &mut Side, s: &Segment) {
    let (f, delivered) = (s.flags, s.dropped.is_none());
    if f.rst {
        sender.state = "CLOSED";
        if delivered {
            receiver.state = "CLOSED";
        }
        return;
    }
    if f.syn && !f.ack && sender.state == "CLOSED" {
        sender.state = "SYN-SENT";
    }
    if f.fin {
        sender.fin_end = Some(s.seq + s.len + 1);
        sender.state = match sender.state {
            "CLOSE-WAIT" => "LAST-ACK",
            "ESTABLISHED" | "SYN-RECEIVED" => "FIN-WAIT-1",
            other => other,
        };
    }
    if !delivered {
        return;
    }
    if f.syn && !f.ack && receiver.state == "LISTEN" {
        receiver.state = "SYN-RECEIVED";
    }
    if f.syn && f.ack && receiver.state == "SYN-SENT" {
        receiver.state = "ESTABLISHED";
    }
    if !f.syn && f.ack && receiver.state == "SYN-RECEIVED" {
        receiver.state = "ESTABLISHED";
    }
    let fin_acked = f.ack && receiver.fin_end.is_some_and(|end| s.ack >= end);
    if fin_acked {
        receiver.state = match receiver.state {
            "FIN-WAIT-1" => "FIN-WAIT-2",
            "CLOSING" => "TIME-WAIT",
            "LAST-ACK" => "CLOSED",
            other => other,
        };
    }
    if f.fin {
        receiver.state = match receiver.state {
            "ESTABLISHED" | "SYN-RECEIVED" => "CLOSE-WAIT",
            "FIN-WAIT-1" => "CLOSING",
            "FIN-WAIT-2" => "TIME-WAIT",
            other => other,
        };
    }
}

/// An arrow's label: `[SYN, ACK] seq=0 ack=1 win=65535`, `len=` when it has data.
pub fn label(s: &Segment) -> String {
    let mut text = format!("{} seq={}", flags_label(s.flags), s.seq);
    if s.flags.ack {
        text.push_str(&format!(" ack={}", s.ack));
    }
    text.push_str(&format!(" win={}", s.window));
    if s.len > 0 {
        text.push_str(&format!(" len={}", s.len));
    }
    if s.retransmission {
        text.push_str(" (retransmission)");
    }
    text
}

/// A row of the ladder: one segment, or a run of segments left out.
enum Row<'a> {
    Message { segment: &'a Segment, client: Option<&'static str>, server: Option<&'static str> },
    Gap { segments: usize, retransmitted: usize, dropped: usize },
}

fn rows(conn: &Connection) -> Vec<Row<'_>> {
    let (mut client, mut server) = (Side { state: "CLOSED", fin_end: None }, Side { state: "LISTEN", fin_end: None });
    let starts_open = conn.segments.first().is_some_and(|s| !s.flags.syn);
    if starts_open {
        client.state = "ESTABLISHED";
        server.state = "ESTABLISHED";
    }
    let mut rows = Vec::new();
    let mut gap = (0, 0, 0);
    for s in &conn.segments {
        let before = (client.state, server.state);
        if s.from_client {
            step(&mut client, &mut server, s);
        } else {
            step(&mut server, &mut client, s);
        }
        let changed = (client.state != before.0, server.state != before.1);
        let f = s.flags;
        // A segment lost while a side is opening or closing is worth its row.
        let settled = before == ("ESTABLISHED", "ESTABLISHED");
        if f.syn || f.fin || f.rst || changed.0 || changed.1 || (s.dropped.is_some() && !settled) {
            if gap.0 > 0 {
                rows.push(Row::Gap { segments: gap.0, retransmitted: gap.1, dropped: gap.2 });
                gap = (0, 0, 0);
            }
            rows.push(Row::Message {
                segment: s,
                client: changed.0.then_some(client.state),
                server: changed.1.then_some(server.state),
            });
        } else {
            gap.0 += 1;
            gap.1 += usize::from(s.retransmission);
            gap.2 += usize::from(s.dropped.is_some());
        }
    }
    if gap.0 > 0 {
        rows.push(Row::Gap { segments: gap.0, retransmitted: gap.1, dropped: gap.2 });
    }
    rows
}

/// The ladder of `conn`, `title` on top.
pub fn draw(conn: &Connection, title: &str) -> Svg {
    let rows = rows(conn);
    let height = TOP + ROW * (rows.len() as f64 + 1.0) + 20.0;
    let mut svg = Svg::new(WIDTH, height);
    svg.text("title", 90.0, 20.0, "start", title);
    svg.text("", 90.0, 38.0, "start", "ladder diagram: opening and close, states inferred from the capture");
    let starts_open = conn.segments.first().is_some_and(|s| !s.flags.syn);
    let first = if starts_open { ("ESTABLISHED", "ESTABLISHED") } else { ("CLOSED", "LISTEN") };
    svg.text("", CLIENT_X, 56.0, "middle", &format!("client {}", conn.client));
    svg.text("", SERVER_X, 56.0, "middle", &format!("server {}", conn.server));
    svg.text("state", CLIENT_X - 10.0, TOP - 8.0, "end", first.0);
    svg.text("state", SERVER_X + 10.0, TOP - 8.0, "start", first.1);
    svg.line("lane", CLIENT_X, 62.0, CLIENT_X, height - 20.0);
    svg.line("lane", SERVER_X, 62.0, SERVER_X, height - 20.0);
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + 8.0;
        match row {
            Row::Message { segment: s, client, server } => {
                let (x1, x2) = if s.from_client { (CLIENT_X, SERVER_X) } else { (SERVER_X, CLIENT_X) };
                let (y1, y2) = (y, y + SLANT);
                svg.text("", 12.0, y + 12.0, "start", &format!("{}s", format_time(s.time)));
                if let Some(why) = &s.dropped {
                    // Lost on the way: the arrow stops short, at a cross.
                    let xe = x1 + (x2 - x1) * 0.7;
                    let ye = y1 + (y2 - y1) * 0.7;
                    svg.line("msg drop", x1, y1, xe, ye);
                    svg.cross("drop hop", xe, ye, 6.0, why);
                } else {
                    svg.line("msg", x1, y1, x2, y2);
                    svg.arrow_head("msg", x2, y2, x2 - x1, y2 - y1);
                }
                // Above the arrow's middle (left of a lost one's cross).
                let at = if s.dropped.is_some() { 0.42 } else { 0.5 };
                let (lx, ly) = (x1 + (x2 - x1) * at, y1 + (y2 - y1) * at - 5.0);
                svg.text("label", lx, ly, "middle", &label(s));
                if let Some(state) = client {
                    svg.text("state", CLIENT_X - 10.0, y + SLANT + 4.0, "end", state);
                }
                if let Some(state) = server {
                    svg.text("state", SERVER_X + 10.0, y + SLANT + 4.0, "start", state);
                }
            }
            Row::Gap { segments, retransmitted, dropped } => {
                let mut text = format!("… {segments} segment{} ", if *segments == 1 { "" } else { "s" });
                if *retransmitted > 0 || *dropped > 0 {
                    text.push_str(&format!("({retransmitted} retransmitted, {dropped} dropped) "));
                }
                text.push('…');
                svg.text("gap", (CLIENT_X + SERVER_X) / 2.0, y + 16.0, "middle", &text);
            }
        }
    }
    svg
}
