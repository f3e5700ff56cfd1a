//! The time-sequence graph of one direction of a connection, in the style of
//! tcptrace and Wireshark's "Stevens" graph: time to the right, relative
//! sequence numbers up.
//!
//! * each data segment is a vertical bar from its first byte to its last
//!   (`seg`), red when it is a retransmission (`seg rexmit`);
//! * the green step line is the other side's cumulative ACK (`ack`): the data
//!   below it has arrived;
//! * the dashed yellow line is the ACK plus the window the other side offers
//!   (`rwnd`): the sender may not send above it (RFC 9293 §3.8.6);
//! * purple bars are SACK blocks (`sack`, RFC 2018): data above a hole that
//!   arrived;
//! * a red ✕ marks a segment that was dropped (`drop`), with the reason as its
//!   tooltip.
//!
//! A flat stretch of the bars with the ACK line stuck below is a stall; bars
//! climbing steeply are a fast sender; red bars after a gap are recovery.

use super::conn::Connection;
use super::svg::Svg;

pub const WIDTH: f64 = 960.0;
pub const HEIGHT: f64 = 440.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;

/// Round numbers for `ticks` axis labels between `lo` and `hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 && out.len() < 20 {
        out.push(v);
        v += step;
    }
    out
}

/// The graph of the segments `conn` sent from the client (`from_client`) or
/// the server, `title` and `subtitle` on top.
pub fn draw(conn: &Connection, from_client: bool, title: &str, subtitle: &str) -> Svg {
    let mut svg = Svg::new(WIDTH, HEIGHT);
    let mine: Vec<_> = conn.segments.iter().filter(|s| s.from_client == from_client).collect();
    let theirs: Vec<_> = conn.segments.iter().filter(|s| s.from_client != from_client && s.flags.ack).collect();
    let t_max = conn.segments.iter().map(|s| s.time).fold(0.0, f64::max).max(1e-6);
    // The scale is the data's and the ACKs' (a window far above them would
    // squeeze them flat): the window line runs along the top edge when higher.
    let mut y_max = mine.iter().map(|s| f64::from(s.seq) + f64::from(s.space())).fold(1.0, f64::max);
    for s in &theirs {
        y_max = y_max.max(f64::from(s.ack));
    }
    let y_max = y_max * 1.1;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| TOP + ph - v.min(y_max) / y_max * ph;

    svg.text("title", LEFT, 20.0, "start", title);
    svg.text("", LEFT, 38.0, "start", subtitle);
    for t in ticks(0.0, t_max) {
        svg.line("grid", x(t), TOP, x(t), TOP + ph);
        svg.text("", x(t), TOP + ph + 16.0, "middle", &format_time(t));
    }
    for v in ticks(0.0, y_max) {
        svg.line("grid", LEFT, y(v), LEFT + pw, y(v));
        svg.text("", LEFT - 6.0, y(v) + 4.0, "end", &format_time(v));
    }
    svg.line("axis", LEFT, TOP, LEFT, TOP + ph);
    svg.line("axis", LEFT, TOP + ph, LEFT + pw, TOP + ph);
    svg.text("", LEFT + pw / 2.0, TOP + ph + 34.0, "middle", "time (s)");
    svg.text_up("", 22.0, TOP + ph / 2.0, "relative sequence number");

    // The ACK and window lines, as steps.
    let (mut acks, mut windows) = (Vec::new(), Vec::new());
    for s in &theirs {
        let (a, w) = (f64::from(s.ack), f64::from(s.ack) + s.window as f64);
        if let Some(&(_, prev)) = acks.last() {
            acks.push((x(s.time), prev));
        }
        acks.push((x(s.time), y(a)));
        if let Some(&(_, prev)) = windows.last() {
            windows.push((x(s.time), prev));
        }
        windows.push((x(s.time), y(w)));
    }
    if let (Some(&(_, a)), Some(&(_, w))) = (acks.last(), windows.last()) {
        acks.push((x(t_max), a));
        windows.push((x(t_max), w));
    }
    svg.polyline("ack", &acks);
    svg.polyline("rwnd", &windows);
    for s in &theirs {
        for &(l, r) in &s.sack {
            svg.line("sack", x(s.time) + 2.0, y(f64::from(l)), x(s.time) + 2.0, y(f64::from(r)));
        }
    }
    for s in &mine {
        let (lo, hi) = (f64::from(s.seq), f64::from(s.seq) + f64::from(s.len));
        if s.len > 0 {
            let class = if s.retransmission { "seg rexmit" } else { "seg" };
            let data = [("seq", s.seq.to_string()), ("len", s.len.to_string()), ("time", format_time(s.time))];
            svg.line_with(class, (x(s.time), y(lo), x(s.time), y(hi)), &data);
            svg.line("tick", x(s.time) - 3.0, y(hi), x(s.time) + 3.0, y(hi));
        }
        if let Some(why) = &s.dropped {
            svg.cross("drop", x(s.time), y((lo + hi) / 2.0), 5.0, why);
        }
    }
    legend(&mut svg, TOP + ph + 52.0);
    svg
}

fn legend(svg: &mut Svg, y: f64) {
    let items = [
        ("seg", "data segment"),
        ("seg rexmit", "retransmission"),
        ("ack", "ACK"),
        ("rwnd", "ACK + receive window (at the top edge when above)"),
        ("sack", "SACK block"),
        ("drop", "dropped"),
    ];
    let mut x = LEFT;
    for (class, label) in items {
        if class == "drop" {
            svg.cross("drop key", x + 8.0, y - 4.0, 4.0, label);
        } else {
            svg.line(class, x, y - 4.0, x + 18.0, y - 4.0);
        }
        svg.text("legend", x + 24.0, y, "start", label);
        x += 40.0 + label.len() as f64 * 6.5;
    }
}

/// Seconds with as many decimals as a capture's timing needs.
pub fn format_time(t: f64) -> String {
    format!("{t:.6}").trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let labels: Vec<String> = ticks(0.0, 0.3).into_iter().map(format_time).collect();
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3"]);
        assert_eq!(format_time(1.5), "1.5");
        assert_eq!(format_time(0.0), "0");
    }
}
