//! Packets between the script's notation and the wire: comparing a segment the
//! stack sent with the `>` line that expects it, and building the segment a `<`
//! line sends.
//!
//! # The connection under test
//!
//! The runner talks to one connection at a time, on one 4-tuple ([`Tuple`]): a
//! passive open accepts segments from `remote:remote_port` to `local:local_port`;
//! an active open is to `remote:connect_port` from the stack's ephemeral port.
//! A segment the stack sends on any other tuple is a mismatch.
//!
//! A listener may have several connections at once. A packet line written
//! `<:40002` or `>:40002` is about the one the listener accepted from the remote
//! host's port 40002 (the runner keeps a `Matcher` for each such connection,
//! `run.rs`); a line without a port is about the connection under test above.
//! packetdrill itself follows one socket at a time (its `run_packet.c`), so
//! this is our extension: a SYN without a port on an established connection
//! still goes to that connection (and draws RFC 5961's challenge ACK).
//!
//! # Sequence numbers
//!
//! As in packetdrill, the script picks the remote host's numbers and writes them
//! absolute; the stack's numbers are written relative to its ISN, which the
//! [`Matcher`] learns from the SYN or SYN,ACK the stack sends. So an outbound
//! `seq` and an inbound `ack` (and inbound SACK blocks) are relative; an
//! outbound `ack` (and outbound SACK blocks) are absolute:
//!
//! ```text
//!   stack ISN 1000
//!   > S. 0:0(0) ack 1        wire: seq 1000, ack 1
//!   < . 1:1(0) ack 1         wire: seq 1,    ack 1001
//! ```
//!
//! # Timestamps
//!
//! The stack's TSval is a per-connection clock (RFC 7323 §5.4) a script cannot
//! predict, so an outbound `TS val` is **not compared** (packetdrill ignores it
//! too unless told the clock rate). The matcher remembers which actual TSval each
//! scripted one stood for, and rewrites the `ecr` of inbound packets: an inbound
//! `TS ecr 100` echoes whatever the stack sent where the script said `TS val 100`
//! (or, for a value never seen, the script value shifted by the latest
//! difference). An outbound `TS ecr` is compared exactly: it echoes the script's
//! own TSval, which went on the wire unchanged.
//!
//! # Comparing
//!
//! [`Matcher::compare`] checks, in order, the tuple, flags, sequence number
//! (unless written `...(len)`),
//! payload length, ACK number (when the script gives one and the ACK flag is
//! set), window (when the script gives one) and the
//! options one by one in wire order (unless written `<...>`; up to an `eol`: what follows it is
//! padding, and the parsed options stop there too), and reports the *first* difference as a
//! [`Mismatch`] naming the field. Payload bytes are not compared (scripts give
//! only lengths).
//!
//! # Bounds and cost
//!
//! At most [`TS_MEMORY`] (scripted, actual) TSval pairs are remembered, oldest
//! forgotten first; a comparison is O(options + TS_MEMORY) and allocates only
//! for its message.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;

use etherparse::TcpOptionElement;

use super::ast::{IcmpSpec, OptSpec, PacketSpec};
use super::packet::{flag_letters, icmp_unreachable_packet, option_bytes, option_text, Seg, Sent};

/// Remembered (script TSval, actual TSval) pairs.
pub(super) const TS_MEMORY: usize = 64;

/// The connection under test, from the stack's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tuple {
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
}

/// The part of a segment that differs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// Addresses or ports: another connection.
    Tuple,
    Flags,
    Seq,
    Len,
    Ack,
    Win,
    /// The number of options, or one option.
    Options,
}

/// How a sent segment differs from the script's: the field, and a message
/// showing both values (`ack 1 instead of 2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mismatch {
    pub field: Field,
    pub detail: String,
}

impl Mismatch {
    fn new(field: Field, detail: impl Into<String>) -> Self {
        Mismatch { field, detail: detail.into() }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// What the runner knows about the connection's numbers: its tuple, the stack's
/// ISN and the TSval map.
#[derive(Clone, Debug)]
pub(super) struct Matcher {
    pub tuple: Tuple,
    /// The stack's ISN on the connection under test, once it sent a SYN.
    pub isn: Option<u32>,
    ts_map: VecDeque<(u32, u32)>,
}

impl Matcher {
    pub fn new(tuple: Tuple) -> Self {
        Matcher { tuple, isn: None, ts_map: VecDeque::new() }
    }

    /// `Ok` if `sent` is what `spec` describes, else the first difference. A SYN
    /// teaches the ISN (even one that then differs), and a matching segment teaches
    /// its TSvals.
    pub fn compare(&mut self, spec: &PacketSpec, sent: &Sent) -> Result<(), Mismatch> {
        let t = self.tuple;
        if sent.src != t.local || sent.dst != t.remote || sent.sport != t.local_port || sent.dport != t.remote_port {
            return Err(Mismatch::new(
                Field::Tuple,
                format!(
                    "sent {}:{} > {}:{}, the connection under test is {}:{} > {}:{}",
                    sent.src, sent.sport, sent.dst, sent.dport, t.local, t.local_port, t.remote, t.remote_port
                ),
            ));
        }
        let seg = &sent.seg;
        if seg.flags.syn {
            self.isn = Some(seg.seq);
        }
        if seg.flags != spec.flags {
            return Err(Mismatch::new(
                Field::Flags,
                format!("flags {} instead of {}", flag_letters(seg.flags), flag_letters(spec.flags)),
            ));
        }
        let seq = seg.seq.wrapping_sub(self.isn.unwrap_or(0));
        if !spec.any_seq && seq != spec.start {
            return Err(Mismatch::new(Field::Seq, format!("sequence number {seq} instead of {}", spec.start)));
        }
        if seg.data.len() != spec.len as usize {
            return Err(Mismatch::new(
                Field::Len,
                format!("payload length {} instead of {}", seg.data.len(), spec.len),
            ));
        }
        // Without the ACK flag the field means nothing (RFC 9293 §3.1): not compared.
        if let Some(ack) = spec.ack.filter(|_| spec.flags.ack) {
            if seg.ack != ack {
                return Err(Mismatch::new(Field::Ack, format!("ack {} instead of {ack}", seg.ack)));
            }
        }
        if let Some(win) = spec.win {
            if seg.win != win {
                return Err(Mismatch::new(Field::Win, format!("window {} instead of {win}", seg.win)));
            }
        }
        if spec.any_options {
            return Ok(());
        }
        // The parsed options stop at an end-of-list, and so does the comparison.
        let wanted =
            &spec.options[..spec.options.iter().position(|o| *o == OptSpec::Eol).unwrap_or(spec.options.len())];
        if seg.opts.len() != wanted.len() {
            return Err(Mismatch::new(Field::Options, "different TCP options"));
        }
        let mut learned = Vec::new();
        for (got, want) in seg.opts.iter().zip(wanted) {
            if !option_matches(got, want, &mut learned) {
                return Err(Mismatch::new(
                    Field::Options,
                    format!("option `{}` instead of `{want}`", option_text(got)),
                ));
            }
        }
        for pair in learned {
            self.learn(pair);
        }
        Ok(())
    }

    /// Remember that the script's TSval `pair.0` was `pair.1` on the wire.
    fn learn(&mut self, pair: (u32, u32)) {
        self.ts_map.retain(|(script, _)| *script != pair.0);
        self.ts_map.push_back(pair);
        if self.ts_map.len() > TS_MEMORY {
            self.ts_map.pop_front();
        }
    }

    /// An outbound packet as a script line, its sequence number relative (to its
    /// own if it is a SYN), with its tuple when it is not the connection's.
    pub fn show(&self, sent: &Sent) -> String {
        let mut seg = sent.seg.clone();
        let isn = if seg.flags.syn { seg.seq } else { self.isn.unwrap_or(0) };
        seg.seq = seg.seq.wrapping_sub(isn);
        let elsewhere = sent.sport != self.tuple.local_port || sent.dport != self.tuple.remote_port;
        let ports = if elsewhere {
            format!(" ({}:{} > {}:{})", sent.src, sent.sport, sent.dst, sent.dport)
        } else {
            String::new()
        };
        format!("> {seg}{ports}")
    }

    /// `spec` and `sent` side by side, one field a line (for `-v`), the sequence
    /// number relative as in the script.
    pub fn fields(&self, spec: &PacketSpec, sent: &Sent) -> String {
        let seg = &sent.seg;
        let isn = if seg.flags.syn { seg.seq } else { self.isn.unwrap_or(0) };
        let opts = |o: Vec<String>| if o.is_empty() { "-".to_string() } else { o.join(",") };
        let rows = [
            ("flags", flag_letters(spec.flags), flag_letters(seg.flags)),
            (
                "seq",
                if spec.any_seq { "(any)".into() } else { spec.start.to_string() },
                seg.seq.wrapping_sub(isn).to_string(),
            ),
            ("len", spec.len.to_string(), seg.data.len().to_string()),
            ("ack", spec.ack.map_or("(any)".into(), |a| a.to_string()), seg.ack.to_string()),
            ("win", spec.win.map_or("(any)".into(), |w| w.to_string()), seg.win.to_string()),
            (
                "options",
                if spec.any_options {
                    "(any)".into()
                } else {
                    opts(spec.options.iter().map(ToString::to_string).collect())
                },
                opts(seg.opts.iter().map(option_text).collect()),
            ),
        ];
        let mut out = format!("  {:<8} {:<30} {}", "field", "script", "actual");
        for (name, want, got) in rows {
            let mark = if want == got || want == "(any)" { ' ' } else { '*' };
            out.push_str(&format!("\n{mark} {name:<8} {want:<30} {got}"));
        }
        out
    }

    /// The actual TSval the stack sent where the script wrote `ecr` (0 stays 0).
    pub fn map_ecr(&self, ecr: u32) -> u32 {
        if ecr == 0 {
            return 0;
        }
        if let Some((_, actual)) = self.ts_map.iter().find(|(script, _)| *script == ecr) {
            return *actual;
        }
        self.ts_map.back().map_or(ecr, |(script, actual)| ecr.wrapping_add(actual.wrapping_sub(*script)))
    }

    /// One inbound option as it goes on the wire: SACK blocks made absolute, TS
    /// ecr rewritten; `None` for an end-of-list.
    fn inbound_option(&self, o: &OptSpec) -> Option<TcpOptionElement> {
        let isn = self.isn.unwrap_or(0);
        Some(match o {
            OptSpec::Eol => return None,
            OptSpec::Nop => TcpOptionElement::Noop,
            OptSpec::Mss(m) => TcpOptionElement::MaximumSegmentSize(*m),
            OptSpec::SackOk => TcpOptionElement::SelectiveAcknowledgementPermitted,
            OptSpec::Wscale(s) => TcpOptionElement::WindowScale(*s),
            OptSpec::Ts { val, ecr } => TcpOptionElement::Timestamp(*val, self.map_ecr(*ecr)),
            OptSpec::Sack(blocks) => {
                let rel = |(l, r): (u32, u32)| (l.wrapping_add(isn), r.wrapping_add(isn));
                let mut rest = [None; 3];
                for (slot, b) in rest.iter_mut().zip(blocks.iter().skip(1)) {
                    *slot = Some(rel(*b));
                }
                // The parser allows 1..=4 blocks; etherparse holds at most 4.
                let first = blocks.first().copied().map(rel).unwrap_or_default();
                TcpOptionElement::SelectiveAcknowledgement(first, rest)
            }
        })
    }

    /// The segment an inbound `spec` puts on the wire: ACK number and SACK blocks
    /// made absolute, TS ecr rewritten, a payload of zeros. End-of-list options
    /// are left out (see [`Matcher::inbound_packet`]).
    pub fn inbound(&self, spec: &PacketSpec) -> Seg {
        let isn = self.isn.unwrap_or(0);
        Seg {
            flags: spec.flags,
            seq: spec.start,
            ack: spec.ack.map_or(0, |a| a.wrapping_add(isn)),
            win: spec.win.unwrap_or(0),
            opts: spec.options.iter().filter_map(|o| self.inbound_option(o)).collect(),
            data: vec![0; spec.len as usize],
        }
    }

    /// The whole IP packet (the tuple's version) for an inbound `spec`, from the remote end of the
    /// tuple to the stack; `Err` when its options do not fit in a TCP header. With
    /// an `eol`, the options are written byte by byte, each `eol` a zero where the
    /// script put it.
    pub fn inbound_packet(&self, spec: &PacketSpec) -> Result<Vec<u8>, String> {
        let t = self.tuple;
        let seg = self.inbound(spec);
        if !spec.options.contains(&OptSpec::Eol) {
            return seg.to_packet(t.remote, t.remote_port, t.local, t.local_port);
        }
        let mut raw = Vec::new();
        for o in &spec.options {
            match self.inbound_option(o) {
                Some(element) => raw.extend(option_bytes(&[element])),
                None => raw.push(0),
            }
        }
        seg.to_packet_with_raw_options(&raw, t.remote, t.remote_port, t.local, t.local_port)
    }
}

impl Matcher {
    /// The IP packet of an inbound ICMP error (ICMPv6 in an IPv6 script): from
    /// the remote host to the stack, quoting the IP header and TCP header of the segment `[start:end]`
    /// the stack sent on the tuple (its sequence number made absolute).
    pub fn icmp_packet(&self, spec: &IcmpSpec) -> Result<Vec<u8>, String> {
        let t = self.tuple;
        let (start, len) = spec.quoted.ok_or("an inbound ICMP error needs the segment it quotes")?;
        let seq = start.wrapping_add(self.isn.unwrap_or(0));
        let flags = crate::wire::tcp::Flags { ack: true, ..Default::default() };
        let quoted = Seg::new(flags, seq).data(&vec![0; len as usize]).to_packet(
            t.local,
            t.local_port,
            t.remote,
            t.remote_port,
        )?;
        // RFC 792: the IP header and at least 8 bytes of what follows; quote the
        // whole TCP header (RFC 1812 4.3.2.3 allows up to 576 bytes; RFC 4443
        // 2.4(c): as much as fits in the minimum IPv6 MTU).
        let headers = if t.local.is_ipv6() { 60 } else { 40 };
        let end = quoted.len().min(headers);
        let quoted = quoted.get(..end).ok_or("a quoted segment shorter than its headers")?;
        icmp_unreachable_packet(t.remote, t.local, spec.code, spec.mtu.unwrap_or(0), quoted)
    }
}

/// Whether option `got` is what the script wrote; an outbound timestamp matches
/// on its ecr alone and records (scripted val, actual val) in `learned`.
fn option_matches(got: &TcpOptionElement, want: &OptSpec, learned: &mut Vec<(u32, u32)>) -> bool {
    match (got, want) {
        (TcpOptionElement::Noop, OptSpec::Nop)
        | (TcpOptionElement::SelectiveAcknowledgementPermitted, OptSpec::SackOk) => true,
        (TcpOptionElement::MaximumSegmentSize(a), OptSpec::Mss(b)) => a == b,
        (TcpOptionElement::WindowScale(a), OptSpec::Wscale(b)) => a == b,
        (TcpOptionElement::Timestamp(val, ecr), OptSpec::Ts { val: want_val, ecr: want_ecr }) => {
            learned.push((*want_val, *val));
            ecr == want_ecr
        }
        (TcpOptionElement::SelectiveAcknowledgement(first, rest), OptSpec::Sack(blocks)) => {
            let got: Vec<(u32, u32)> = std::iter::once(*first).chain(rest.iter().flatten().copied()).collect();
            got == *blocks
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ast::Direction;
    use crate::wire::tcp::Flags;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
    const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const ISN: u32 = 0xfff0_0000;

    fn matcher() -> Matcher {
        Matcher::new(Tuple { local: LOCAL, local_port: 8080, remote: REMOTE, remote_port: 48_271 })
    }

    fn flags(syn: bool, ack: bool) -> Flags {
        Flags { syn, ack, ..Flags::default() }
    }

    /// What the stack sent on the connection under test.
    fn sent(seg: Seg) -> Sent {
        Sent { src: LOCAL, dst: REMOTE, sport: 8080, dport: 48_271, seg }
    }

    fn spec(flags: Flags, start: u32, len: u32) -> PacketSpec {
        PacketSpec {
            dir: Direction::Outbound,
            port: None,
            flags,
            start,
            any_seq: false,
            any_options: false,
            len,
            ack: None,
            win: None,
            options: Vec::new(),
        }
    }

    /// A matcher that has seen the stack's SYN,ACK with ISN `ISN` and TSval 5000
    /// where the script wrote 100.
    fn after_syn_ack() -> Matcher {
        let mut m = matcher();
        let syn_ack = Seg::new(flags(true, true), ISN)
            .ack(1)
            .win(65535)
            .opts([TcpOptionElement::MaximumSegmentSize(1460), TcpOptionElement::Timestamp(5000, 7)]);
        let mut want = spec(flags(true, true), 0, 0);
        want.ack = Some(1);
        want.options = vec![OptSpec::Mss(1460), OptSpec::Ts { val: 100, ecr: 7 }];
        m.compare(&want, &sent(syn_ack)).expect("the SYN,ACK matches");
        m
    }

    fn data(m: &Matcher, rel_seq: u32, len: usize) -> Seg {
        let isn = m.isn.unwrap_or(0);
        Seg::new(Flags { ack: true, psh: true, ..Flags::default() }, isn.wrapping_add(rel_seq))
            .ack(1)
            .win(257)
            .data(&vec![7; len])
    }

    fn data_spec(start: u32, len: u32) -> PacketSpec {
        let mut s = spec(Flags { ack: true, psh: true, ..Flags::default() }, start, len);
        s.ack = Some(1);
        s.win = Some(257);
        s
    }

    #[test]
    fn an_exact_match_passes() {
        let mut m = after_syn_ack();
        assert_eq!(m.isn, Some(ISN));
        assert_eq!(m.compare(&data_spec(1, 10), &sent(data(&m, 1, 10))), Ok(()));
    }

    #[test]
    fn unscripted_ack_and_window_are_not_checked() {
        let mut m = after_syn_ack();
        let mut s = data_spec(1, 10);
        (s.ack, s.win) = (None, None);
        assert_eq!(m.compare(&s, &sent(data(&m, 1, 10))), Ok(()));
    }

    #[test]
    fn a_wrong_ack_number_fails_naming_the_field() {
        let mut m = after_syn_ack();
        let mut s = data_spec(1, 10);
        s.ack = Some(2);
        let e = m.compare(&s, &sent(data(&m, 1, 10))).expect_err("ack differs");
        assert_eq!(e.field, Field::Ack);
        assert_eq!(e.to_string(), "ack 1 instead of 2");
    }

    #[test]
    fn the_ack_field_is_not_compared_without_the_ack_flag() {
        let mut m = after_syn_ack();
        let rst = Seg::new(Flags { rst: true, ..Flags::default() }, ISN.wrapping_add(1)).ack(77);
        let mut s = spec(Flags { rst: true, ..Flags::default() }, 1, 0);
        s.ack = Some(1);
        assert_eq!(m.compare(&s, &sent(rst)), Ok(()));
    }

    #[test]
    fn fields_side_by_side_mark_the_differences() {
        let m = after_syn_ack();
        let mut s = data_spec(1, 10);
        s.ack = Some(2);
        let table = m.fields(&s, &sent(data(&m, 1, 10)));
        assert!(table.contains("* ack      2"), "{table}");
        assert!(table.contains("  seq      1"), "{table}");
    }

    #[test]
    fn wrong_flags_fail() {
        let mut m = after_syn_ack();
        let s = spec(Flags { ack: true, fin: true, ..Flags::default() }, 1, 10);
        let e = m.compare(&s, &sent(data(&m, 1, 10))).expect_err("flags differ");
        assert_eq!(e.field, Field::Flags);
        assert_eq!(e.to_string(), "flags P. instead of F.");
    }

    #[test]
    fn a_wrong_window_fails() {
        let mut m = after_syn_ack();
        let mut s = data_spec(1, 10);
        s.win = Some(256);
        let e = m.compare(&s, &sent(data(&m, 1, 10))).expect_err("window differs");
        assert_eq!((e.field, e.to_string()), (Field::Win, "window 257 instead of 256".to_string()));
    }

    #[test]
    fn a_wrong_length_fails() {
        let mut m = after_syn_ack();
        let e = m.compare(&data_spec(1, 11), &sent(data(&m, 1, 10))).expect_err("length differs");
        assert_eq!(e.field, Field::Len);
    }

    #[test]
    fn another_connection_fails() {
        let mut m = after_syn_ack();
        let mut other = sent(data(&m, 1, 10));
        other.dport = 1;
        let e = m.compare(&data_spec(1, 10), &other).expect_err("other port");
        assert_eq!(e.field, Field::Tuple);
        assert!(m.show(&other).ends_with("(192.168.0.1:8080 > 192.0.2.1:1)"), "{}", m.show(&other));
    }

    #[test]
    fn options_must_match_in_number_kind_and_value() {
        let mut m = after_syn_ack();
        let seg = data(&m, 1, 0).opts([TcpOptionElement::Noop, TcpOptionElement::MaximumSegmentSize(1400)]);
        let mut s = data_spec(1, 0);
        s.options = vec![OptSpec::Nop];
        assert_eq!(m.compare(&s, &sent(seg.clone())).map_err(|e| e.field), Err(Field::Options));
        s.options = vec![OptSpec::Nop, OptSpec::Mss(1460)];
        let e = m.compare(&s, &sent(seg.clone())).expect_err("value differs");
        assert_eq!(e.to_string(), "option `mss 1400` instead of `mss 1460`");
        s.options = vec![OptSpec::Nop, OptSpec::SackOk];
        assert_eq!(m.compare(&s, &sent(seg.clone())).map_err(|e| e.field), Err(Field::Options));
        s.options = vec![OptSpec::Nop, OptSpec::Mss(1400)];
        assert_eq!(m.compare(&s, &sent(seg)), Ok(()));
        // No options written means none allowed.
        let seg = data(&m, 1, 0).opts([TcpOptionElement::Noop]);
        assert_eq!(m.compare(&data_spec(1, 0), &sent(seg)).map_err(|e| e.field), Err(Field::Options));
    }

    #[test]
    fn an_end_of_list_ends_the_comparison_and_goes_on_the_wire() {
        let mut m = after_syn_ack();
        let seg = data(&m, 1, 0).opts([TcpOptionElement::MaximumSegmentSize(1460)]);
        let mut s = data_spec(1, 0);
        s.options = vec![OptSpec::Mss(1460), OptSpec::Eol, OptSpec::Eol];
        assert_eq!(m.compare(&s, &sent(seg)), Ok(()));
        s.dir = Direction::Inbound;
        s.options = vec![OptSpec::Nop, OptSpec::Eol, OptSpec::Mss(1000)];
        let packet = m.inbound_packet(&s).expect("fits");
        // 20 bytes of IPv4 (the test's tuple), 20 of TCP, then the options as
        // written, zero-padded.
        assert_eq!(&packet[40..48], &[1, 0, 2, 4, 0x03, 0xe8, 0, 0]);
        assert_eq!(packet[32] >> 4, 7, "a 28-byte TCP header");
        let back = crate::script::packet::parse(&packet).expect("valid");
        assert_eq!(back.seg.opts, vec![TcpOptionElement::Noop], "parsing stops at the end of the list");
    }

    #[test]
    fn outbound_sack_blocks_are_absolute() {
        let mut m = after_syn_ack();
        let seg = data(&m, 1, 0).opts([TcpOptionElement::SelectiveAcknowledgement((1001, 2001), [None; 3])]);
        let mut s = data_spec(1, 0);
        s.options = vec![OptSpec::Sack(vec![(1001, 2001)])];
        assert_eq!(m.compare(&s, &sent(seg)), Ok(()));
    }

    #[test]
    fn outbound_sequence_numbers_are_relative_to_the_isn() {
        let mut m = after_syn_ack();
        // 16 bytes past the ISN on the wire is `17` in the script (the SYN takes one).
        let seg = data(&m, 17, 10);
        assert_eq!(seg.seq, ISN.wrapping_add(17));
        assert_eq!(m.compare(&data_spec(17, 10), &sent(seg.clone())), Ok(()));
        // The absolute number is not what the script means.
        let e = m.compare(&data_spec(ISN.wrapping_add(17), 10), &sent(seg.clone())).expect_err("absolute");
        assert_eq!(
            (e.field, e.to_string()),
            (Field::Seq, format!("sequence number 17 instead of {}", ISN.wrapping_add(17)))
        );
        // The outbound ACK number is absolute: the remote host's own numbers.
        let mut s = data_spec(17, 10);
        s.ack = Some(1);
        assert_eq!(m.compare(&s, &sent(seg.clone())), Ok(()));
        assert_eq!(m.show(&sent(seg)), "> P. 17:27(10) ack 1 win 257");
    }

    #[test]
    fn any_sequence_number_matches_when_the_script_says_so() {
        let mut m = after_syn_ack();
        let mut s = data_spec(0, 10);
        s.any_seq = true;
        assert_eq!(m.compare(&s, &sent(data(&m, 77, 10))), Ok(()));
        s.len = 11;
        assert_eq!(m.compare(&s, &sent(data(&m, 77, 10))).map_err(|e| e.field), Err(Field::Len));
    }

    #[test]
    fn any_options_match_when_the_script_says_so() {
        let mut m = after_syn_ack();
        let mut s = data_spec(1, 0);
        s.any_options = true;
        let seg = data(&m, 1, 0).opts([TcpOptionElement::Noop, TcpOptionElement::Timestamp(1, 2)]);
        assert_eq!(m.compare(&s, &sent(seg)), Ok(()));
    }

    #[test]
    fn a_new_syn_relearns_the_isn() {
        let mut m = after_syn_ack();
        let syn = Seg::new(flags(true, false), 77).win(65535);
        // Even a SYN that then differs teaches the ISN.
        let e = m.compare(&spec(flags(true, true), 0, 0), &sent(syn.clone())).expect_err("flags");
        assert_eq!(e.field, Field::Flags);
        assert_eq!(m.isn, Some(77));
        assert_eq!(m.show(&sent(syn)), "> S 0:0(0) win 65535");
    }

    #[test]
    fn inbound_ack_and_sack_are_made_absolute() {
        let m = after_syn_ack();
        let mut s = data_spec(1, 0);
        s.dir = Direction::Inbound;
        s.ack = Some(11);
        s.options = vec![OptSpec::Sack(vec![(21, 31), (41, 51)])];
        let seg = m.inbound(&s);
        assert_eq!((seg.seq, seg.ack), (1, ISN.wrapping_add(11)));
        assert_eq!(
            seg.opts,
            vec![TcpOptionElement::SelectiveAcknowledgement(
                (ISN.wrapping_add(21), ISN.wrapping_add(31)),
                [Some((ISN.wrapping_add(41), ISN.wrapping_add(51))), None, None]
            )]
        );
        let packet = m.inbound_packet(&s).expect("fits");
        let back = crate::script::packet::parse(&packet).expect("valid");
        assert_eq!((back.src, back.sport, back.dst, back.dport), (REMOTE, 48_271, LOCAL, 8080));
    }

    #[test]
    fn inbound_ts_ecr_is_rewritten_to_the_actual_tsval() {
        let mut m = after_syn_ack();
        // The script's 100 was 5000 on the wire.
        assert_eq!(m.map_ecr(100), 5000);
        // A value never seen is shifted by the latest difference; 0 stays 0.
        assert_eq!(m.map_ecr(110), 5010);
        assert_eq!(m.map_ecr(0), 0);
        let mut s = data_spec(1, 0);
        s.dir = Direction::Inbound;
        s.options = vec![OptSpec::Nop, OptSpec::Nop, OptSpec::Ts { val: 9, ecr: 100 }];
        assert_eq!(m.inbound(&s).opts[2], TcpOptionElement::Timestamp(9, 5000));
        // A later segment where the script's 120 was 9999 on the wire.
        let seg = data(&m, 1, 0).opts([TcpOptionElement::Timestamp(9999, 9)]);
        let mut out = data_spec(1, 0);
        out.options = vec![OptSpec::Ts { val: 120, ecr: 9 }];
        assert_eq!(m.compare(&out, &sent(seg)), Ok(()));
        assert_eq!((m.map_ecr(120), m.map_ecr(100)), (9999, 5000));
    }

    #[test]
    fn outbound_ts_val_is_not_compared_but_ecr_is() {
        let mut m = after_syn_ack();
        let seg = data(&m, 1, 0).opts([TcpOptionElement::Timestamp(123_456, 9)]);
        let mut s = data_spec(1, 0);
        s.options = vec![OptSpec::Ts { val: 1, ecr: 9 }];
        assert_eq!(m.compare(&s, &sent(seg.clone())), Ok(()));
        s.options = vec![OptSpec::Ts { val: 1, ecr: 8 }];
        let e = m.compare(&s, &sent(seg)).expect_err("ecr differs");
        assert_eq!(e.to_string(), "option `TS val 123456 ecr 9` instead of `TS val 1 ecr 8`");
    }

    #[test]
    fn the_ts_memory_is_bounded() {
        let mut m = matcher();
        for i in 1..=(TS_MEMORY as u32 + 10) {
            m.learn((i, i + 1000));
        }
        assert_eq!(m.ts_map.len(), TS_MEMORY);
        // The oldest were forgotten: 1 is now mapped by the latest difference.
        assert_eq!(m.map_ecr(1), 1001);
        assert_eq!(m.ts_map.front(), Some(&(11, 1011)));
    }
}
