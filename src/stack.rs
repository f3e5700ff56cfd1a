//! The sans-IO core: one [`Stack`] holds every protocol's state and is driven by
//! three kinds of call, all taking the current time as a value:
//!
//! * [`Stack::input`] — one IP packet arrived from the link;
//! * [`Stack::handle_timeout`] — the time from [`Stack::poll_deadline`] has come;
//! * socket calls (`udp_bind`, `udp_send_to`, …) — a program asked for something.
//!
//! Their results come out through [`Stack::poll_transmit`] (packets for the link)
//! and [`Stack::poll_event`] (sockets that became readable or got an error). The
//! core has no threads, clocks, files or sockets of its own, so a test, a fuzzer or a
//! simulator can drive it exactly as the TUN runtime does.

use crate::events::EventQueue;

use tracing::debug;

use crate::config::StackConfig;
use crate::counters::Counters;
use crate::icmp::TokenBucket;
use crate::ip::reassembly::Reassembler;
use crate::ip::IpOutput;
use crate::ports::PortTable;
use crate::tcp::{TcpHandle, TcpTable};
use crate::time::Instant;
use crate::udp::{UdpHandle, UdpTable};

/// Something a program waiting on a socket should hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A datagram was queued on this socket.
    UdpReadable(UdpHandle),
    /// An ICMP error is waiting for this (connected) socket.
    UdpError(UdpHandle),
    /// A TCP connection or listener changed: data, window, state, or a connection
    /// waiting for `accept`.
    Tcp(TcpHandle),
}

/// Why the stack discarded a packet it was given: a short, fixed phrase such as
/// `"tcp bad checksum"` or `"udp queue full"`.
///
/// [`Stack::input`] returns one when the packet it was handed went no further, so
/// whoever fed the packet in (the runtime, a simulator, a test) can say so next to
/// it — the pcapng capture writes it as the packet's comment. Every drop also
/// increments one counter ([`Counters`]) and emits a `tracing` event on target
/// `tunstack::drop` with the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DropReason(&'static str);

impl DropReason {
    /// The reason as text.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Remember that the packet being processed was dropped for `reason`. The first
/// reason wins: a packet is discarded once, and later code only sees its
/// consequences.
pub(crate) fn note_drop(slot: &mut Option<DropReason>, reason: &'static str) {
    if slot.is_none() {
        *slot = Some(DropReason(reason));
    }
}

/// A user-space IPv4 host: IP, ICMP, UDP and TCP.
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: StackConfig,
    pub(crate) counters: Counters,
    pub(crate) reassembly: Reassembler,
    pub(crate) icmp_errors: TokenBucket,
    pub(crate) udp: UdpTable,
    /// TCP connections, listeners, and the TCP port namespace (independent of UDP's).
    pub(crate) tcp: TcpTable,
    pub(crate) out: IpOutput,
    pub(crate) events: EventQueue,
    /// Why the packet [`input`](Stack::input) is processing was dropped, if it was;
    /// taken and returned when `input` ends.
    pub(crate) rx_drop: Option<DropReason>,
}

impl Stack {
    pub fn new(config: StackConfig) -> Self {
        Stack {
            counters: Counters::default(),
            reassembly: Reassembler::new(config.reassembly.clone()),
            icmp_errors: TokenBucket::new(config.icmp_error_burst, config.icmp_refill_interval()),
            udp: UdpTable::new(config.ports.clone(), config.seed),
            tcp: TcpTable::new(&config),
            out: IpOutput::new(config.seed),
            events: EventQueue::default(),
            rx_drop: None,
            config,
        }
    }

    /// Note that the packet being input is dropped (see [`note_drop`]).
    pub(crate) fn drop_input(&mut self, reason: &'static str) {
        note_drop(&mut self.rx_drop, reason);
    }

    /// The configuration the stack runs with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Every counter, for display and tests.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The next packet for the link, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop()
    }

    /// Hand back a packet from [`poll_transmit`](Stack::poll_transmit) once it is
    /// written: the stack builds a later packet in its buffer instead of allocating
    /// one. Optional — a host that keeps or drops its packets loses nothing but
    /// the reuse.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        self.out.recycle(packet);
    }

    /// The next socket event, if any. A socket has at most one event of each kind
    /// pending, and none once it is freed.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// When [`handle_timeout`](Stack::handle_timeout) next has work to do.
    pub fn poll_deadline(&self) -> Option<Instant> {
        [self.reassembly.next_deadline(), self.tcp.next_deadline()].into_iter().flatten().min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.reassembly.expire(now);
        if expired > 0 {
            // RFC 1122 3.3.2 allows a Time Exceeded reply here; like many stacks we
            // only count the loss.
            self.counters.ip_frag_timeout += expired as u64;
            debug!(target: "tunstack::drop", reason = "reassembly timeout", datagrams = expired, "ip drop");
        }
        self.tcp_on_timeout(now);
    }

    /// The TCP port namespace.
    pub fn tcp_ports(&self) -> &PortTable {
        &self.tcp.ports
    }

    /// The UDP port namespace.
    pub fn udp_ports(&self) -> &PortTable {
        &self.udp.ports
    }
}
