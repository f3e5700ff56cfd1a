//! A registered protocol through the whole core: what reaches it, what it
//! sends, its timers and events, and its neighbours (a raw socket on the same
//! number, ICMP errors).

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::Ipv4Addr;

use super::{IcmpError, IpDatagram, Protocol, Transmit, Verdict};
use crate::shared::{DropReason, Event};
use crate::testutil::*;
use crate::time::Instant;

const EXPERIMENT: u8 = 253;

/// Echoes every datagram back after `delay` ms (0: at once), except those
/// starting with `!` (malformed) or `?` (nobody here); records ICMP errors.
#[derive(Debug, Default)]
struct Echo {
    delay: u64,
    due: VecDeque<(Instant, Transmit)>,
    out: VecDeque<Transmit>,
    events: VecDeque<u64>,
    errors: Vec<(u8, Vec<u8>)>,
    timeouts: u32,
}

impl Protocol for Echo {
    fn input(&mut self, now: Instant, datagram: &IpDatagram<'_>) -> Verdict {
        match datagram.payload.first() {
            Some(b'!') => return Verdict::Malformed,
            Some(b'?') => return Verdict::Unreachable,
            _ => {}
        }
        let reply = Transmit::new(datagram.src, datagram.payload.to_vec());
        self.due.push_back((now + std::time::Duration::from_millis(self.delay), reply));
        self.events.push_back(7);
        self.handle_timeout(now);
        Verdict::Accepted
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        self.due.front().map(|(at, _)| *at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts += 1;
        while self.due.front().is_some_and(|(at, _)| *at <= now) {
            self.out.extend(self.due.pop_front().map(|(_, t)| t));
        }
    }

    fn poll_event(&mut self) -> Option<u64> {
        self.events.pop_front()
    }

    fn icmp_error(&mut self, _now: Instant, error: &IcmpError<'_>) {
        self.errors.push((error.code, error.quoted.to_vec()));
    }
}

fn with_echo(delay: u64) -> crate::Stack {
    let mut s = stack();
    s.register_protocol(EXPERIMENT, Echo { delay, ..Echo::default() }).expect("253 is free");
    s
}

#[test]
fn a_datagram_reaches_the_protocol_and_its_reply_leaves_through_ip_output() {
    let mut s = with_echo(0);
    let before = s.counters().clone();
    assert_eq!(s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"hello")), None);
    let sent = drain_parsed(&mut s);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].src, sent[0].dst, sent[0].protocol, &sent[0].payload[..]),
        (US, PEER, EXPERIMENT, &b"hello"[..])
    );
    assert_eq!(
        counter_changes(&before, s.counters()),
        [("ip_rx_packets", 1), ("ip_rx_delivered", 1), ("ip_tx_packets", 1), ("proto_rx", 1), ("proto_tx", 1)]
    );
    assert_eq!(events(&mut s), [Event::Protocol { protocol: EXPERIMENT, socket: 7 }]);
}

#[test]
fn a_raw_socket_on_the_same_number_gets_a_copy_first() {
    let mut s = with_echo(0);
    let raw = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("a raw socket may share the number");
    s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"both"));
    assert_eq!(&s.raw_recv(raw).expect("a copy").data[..], b"both");
    assert_eq!(drain_parsed(&mut s).len(), 1, "and the protocol answered");
    assert_eq!(events(&mut s), [Event::RawReadable(raw), Event::Protocol { protocol: EXPERIMENT, socket: 7 }]);
    assert_eq!(s.counters().ip_rx_delivered, 1, "one datagram, delivered once");
}

#[test]
fn the_verdict_is_counted_and_unreachable_is_answered_as_a_closed_port() {
    let mut s = with_echo(0);
    let verdict = s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"!bad"));
    assert_eq!(verdict, Some(DropReason::ProtocolMalformed));
    assert!(drain(&mut s).is_empty(), "a malformed datagram is not answered");
    let verdict = s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 2, b"?who"));
    assert_eq!(verdict, Some(DropReason::ProtocolUnreachable));
    let reply = drain_parsed(&mut s);
    assert_eq!((reply[0].icmp().icmp_type, reply[0].icmp().code), (3, 3), "port unreachable");
    let c = s.counters();
    assert_eq!((c.proto_rx, c.proto_rx_malformed, c.proto_rx_unreachable, c.ip_rx_unknown_protocol), (2, 1, 1, 0));
}

#[test]
fn its_deadline_joins_the_stacks_and_its_timer_runs_only_when_due() {
    let mut s = with_echo(200);
    s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"later"));
    assert_eq!(s.poll_deadline(), Some(ms(201)));
    s.handle_timeout(ms(100));
    assert!(drain(&mut s).is_empty(), "not yet");
    s.handle_timeout(ms(201));
    assert_eq!(drain_parsed(&mut s)[0].payload, b"later");
    assert_eq!(s.poll_deadline(), None);
    let echo: &Echo = s.protocol(EXPERIMENT).expect("an Echo");
    assert_eq!(echo.timeouts, 2, "once from input, once when due; never at 100 ms");
}

#[test]
fn a_large_datagram_is_fragmented_and_a_reassembled_one_arrives_whole() {
    let mut s = with_echo(0);
    let payload = pattern(4000);
    for piece in fragments(PEER, US, EXPERIMENT, 9, &payload, 1480) {
        s.input(ms(1), &piece);
    }
    let sent = drain_parsed(&mut s);
    assert_eq!(sent.len(), 3, "4000 bytes in 1480-byte fragments");
    assert_eq!(reassemble(&sent), payload);
}

#[test]
fn an_icmp_error_quoting_its_datagram_reaches_it() {
    let mut s = with_echo(0);
    let ours = ip_packet(US, PEER, EXPERIMENT, 5, b"12345678 and more");
    s.input(ms(1), &icmp_dest_unreachable(PEER, US, 3, &ours));
    let echo: &Echo = s.protocol(EXPERIMENT).expect("an Echo");
    assert_eq!(echo.errors, [(3, b"12345678 and more".to_vec())]);
}

#[test]
fn registering_and_reaching_a_protocol_say_what_went_wrong() {
    let mut s = with_echo(0);
    for (number, kind) in [(6, ErrorKind::AddrInUse), (0, ErrorKind::InvalidInput), (EXPERIMENT, ErrorKind::AddrInUse)]
    {
        assert_eq!(s.register_protocol(number, Echo::default()).map_err(|e| e.kind()), Err(kind), "{number}");
    }
    assert_eq!(s.protocol_mut::<Echo>(254).map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::NotFound));
    #[derive(Debug)]
    struct Other;
    impl Protocol for Other {
        fn input(&mut self, _: Instant, _: &IpDatagram<'_>) -> Verdict {
            Verdict::Accepted
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            None
        }
        fn poll_deadline(&self) -> Option<Instant> {
            None
        }
        fn handle_timeout(&mut self, _: Instant) {}
    }
    assert_eq!(s.protocol_mut::<Other>(EXPERIMENT).map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
}

#[test]
fn a_datagram_ip_output_refuses_is_counted() {
    let mut s = with_echo(0);
    let echo: &mut Echo = s.protocol_mut(EXPERIMENT).expect("an Echo");
    echo.out.push_back(Transmit::new(Ipv4Addr::BROADCAST, b"everyone".to_vec()));
    echo.out.push_back(Transmit { dst: PEER, payload: vec![0; 2000], dont_fragment: true });
    echo.out.push_back(Transmit::new(PEER, b"fine".to_vec()));
    let sent = drain_parsed(&mut s);
    assert_eq!(sent.iter().map(|p| &p.payload[..]).collect::<Vec<_>>(), [&b"fine"[..]]);
    assert_eq!((s.counters().proto_tx, s.counters().proto_tx_refused), (1, 2));
}
