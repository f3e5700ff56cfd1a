//! What must hold of the TCP table and of each connection between any two calls
//! (see [`crate::invariants`] for why, and for the bound on bytes in flight).

use std::collections::HashMap;

use super::receiver::AckState;
use super::state::State;
use super::tcb::Tcb;
use super::timer_table::Timer;
use super::TcpTable;
use crate::ip::dual_stack::Family;
use crate::shared::ensure;

impl TcpTable {
    /// The table's rules, then each connection's; `Err` names the first broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.check_tables().map_err(|e| format!("TCP: {e}"))?;
        for tcb in self.conns.values() {
            check_connection(tcb).map_err(|e| format!("TCP {} → {} in {}: {e}", tcb.local, tcb.remote, tcb.state))?;
        }
        Ok(())
    }

    fn check_tables(&self) -> Result<(), String> {
        let tcp = self;
        let config = &self.config.tcp;
        ensure!(
            tcp.conns.len() <= config.max_connections,
            "{} connections, bound {}",
            tcp.conns.len(),
            config.max_connections
        );

        // Ports: each owner holds a bound port of its own — the listeners of a
        // port (one per family at most) together — and nothing else is bound.
        let mut owners: HashMap<u16, String> = HashMap::new();
        let mut claim = |port: u16, who: String| match owners.insert(port, who.clone()) {
            Some(other) => Err(format!("port {port} is owned by both {other} and {who}")),
            None => Ok(()),
        };
        for (&port, holders) in &tcp.listener_by_port {
            claim(port, format!("the listeners {holders:?}"))?;
            for handle in [holders.v4, holders.v6].into_iter().flatten() {
                let on = tcp.listeners.get(&handle).map(|l| l.local.port());
                ensure!(on == Some(port), "port {port} leads to listener {handle:?}, which is on {on:?}");
            }
        }
        for (handle, l) in &tcp.listeners {
            let holders = tcp.listener_by_port.get(&l.local.port()).copied().unwrap_or_default();
            for family in [Family::V4, Family::V6] {
                ensure!(
                    (holders.get(family) == Some(*handle)) == l.binding.serves(family),
                    "listener {handle:?} on port {}: its {family:?} place does not match what it serves",
                    l.local.port()
                );
            }
        }
        for tcb in tcp.conns.values().filter(|t| t.owns_port) {
            claim(tcb.local.port(), format!("connection {:?}", tcb.handle))?;
        }
        for (&port, who) in &owners {
            ensure!(tcp.ports.is_bound(port), "{who} owns port {port}, which is not bound");
        }
        if tcp.ports.len() != owners.len() {
            let leaked: Vec<u16> = tcp.ports.iter().filter(|p| !owners.contains_key(p)).collect();
            return Err(format!("ports {leaked:?} are bound but no listener or connection owns them"));
        }

        // The 4-tuple index: exactly the connections that are not CLOSED.
        for (&(port, remote), handle) in tcp.by_tuple.iter() {
            let tcb = tcp.conns.get(handle).ok_or_else(|| format!("({port}, {remote}) leads to a freed connection"))?;
            ensure!(
                tcb.local.port() == port && tcb.remote == remote,
                "({port}, {remote}) leads to {:?}, which is {} → {}",
                handle,
                tcb.local,
                tcb.remote
            );
            ensure!(tcb.state != State::Closed, "({port}, {remote}) leads to a CLOSED connection");
        }
        for tcb in tcp.conns.values().filter(|t| t.state != State::Closed) {
            ensure!(
                tcp.by_tuple.get(&(tcb.local.port(), tcb.remote)) == Some(tcb.handle),
                "{} → {} in {} cannot be found by its 4-tuple",
                tcb.local,
                tcb.remote,
                tcb.state
            );
        }

        // The timer set: one entry per connection with a deadline, at that deadline.
        for &(at, handle) in &tcp.timers {
            let tcb = tcp.conns.get(&handle).ok_or_else(|| format!("a timer at {at:?} for freed {handle:?}"))?;
            ensure!(
                tcb.scheduled == Some(at),
                "{handle:?} is in the timer set at {at:?} but scheduled {:?}",
                tcb.scheduled
            );
        }
        for tcb in tcp.conns.values() {
            ensure!(
                tcb.scheduled == tcb.deadline(),
                "{} → {} is scheduled at {:?} but its next deadline is {:?}",
                tcb.local,
                tcb.remote,
                tcb.scheduled,
                tcb.deadline()
            );
        }
        let scheduled = tcp.conns.values().filter(|t| t.scheduled.is_some()).count();
        ensure!(tcp.timers.len() == scheduled, "{} timers for {scheduled} scheduled connections", tcp.timers.len());

        // Listeners: counts match the connections, queues within their bounds.
        for (handle, l) in &tcp.listeners {
            let half_open =
                tcp.conns.values().filter(|t| t.listener == Some(*handle) && t.state == State::SynReceived).count();
            ensure!(l.half_open == half_open, "listener {handle:?} counts {} half-open, has {half_open}", l.half_open);
            // SYNs fill at most the SYN backlog; peers whose valid cookie found
            // the accept queue full wait here too, at most a backlog's worth.
            let bound = config.syn_backlog + l.backlog;
            ensure!(half_open <= bound, "{half_open} half-open connections, bound {bound}");
            ensure!(
                l.accept_queue.len() <= l.backlog,
                "accept queue of {} holds {}, bound {}",
                l.local,
                l.accept_queue.len(),
                l.backlog
            );
            for queued in &l.accept_queue {
                ensure!(
                    tcp.conns.get(queued).is_some_and(|t| t.listener == Some(*handle)),
                    "accept queue of {} holds {queued:?}, which is not its connection",
                    l.local
                );
            }
        }
        Ok(())
    }
}

/// The rules of one connection, in any state but CLOSED (a CLOSED connection only
/// waits for its program to let go; the timer rules above cover it):
///
/// * SND.UNA ≤ SND.NXT, and SND.NXT − SND.UNA within the peer window's bound
///   (see the [module documentation](self));
/// * the retransmission queue has one record per segment, contiguous from the
///   first data byte not acknowledged to SND.NXT, and its SACKed and lost totals
///   match the records; the SACK scoreboard lies within [SND.UNA, SND.NXT];
/// * the send buffer starts at SND.UNA (one byte later while the SYN is not
///   acknowledged, one earlier once the FIN is) and holds everything up to
///   SND.NXT;
/// * data in flight has a retransmission timer running (RFC 6298 §5.1), and data
///   waiting with nothing in flight has the persist timer (RFC 9293 §3.8.6.1):
///   otherwise nothing would ever send it;
/// * in-order bytes plus the window promised never exceed the receive buffer
///   (the window is a promise of room, RFC 9293 §3.8.6.2.2), and in-order plus
///   out-of-order bytes never exceed it either; the out-of-order queue is within
///   its own byte and range bounds;
/// * the sequence numbers agree with the state: our FIN (which the states after
///   CLOSE imply) is acknowledged exactly in FIN-WAIT-2 and TIME-WAIT;
/// * the timers agree with the state: the 2MSL timer runs exactly in TIME-WAIT,
///   and a delayed ACK has its timer running.
pub(crate) fn check_connection(tcb: &Tcb) -> Result<(), String> {
    if tcb.state == State::Closed {
        return Ok(());
    }
    check_sender(tcb)?;
    check_receiver(tcb)?;
    check_state(tcb)
}

fn check_sender(tcb: &Tcb) -> Result<(), String> {
    let snd = &tcb.snd;
    let (una, nxt) = (snd.snd_una, snd.snd_nxt);
    ensure!(una <= nxt, "SND.UNA {una:?} is after SND.NXT {nxt:?}");
    let flight = snd.in_flight();
    let syn_unacked = una == snd.iss;
    let fin_in_flight = tcb.fin_seq().is_some_and(|fin| nxt > fin && una <= fin);
    let allowed = snd.max_snd_wnd + usize::from(syn_unacked) + usize::from(fin_in_flight);
    ensure!(
        flight <= allowed,
        "{flight} bytes in flight but the peer never offered more than {} (SYN {syn_unacked}, FIN {fin_in_flight})",
        snd.max_snd_wnd
    );

    // The retransmission queue tiles [first unacknowledged data byte, SND.NXT).
    let data_start = if syn_unacked { una + 1 } else { una };
    let mut at = data_start;
    let (mut sacked, mut lost) = (0, 0);
    for seg in snd.sent.iter() {
        ensure!(
            seg.start == at && seg.start < seg.end,
            "a sent record [{:?}, {:?}) where {at:?} was due",
            seg.start,
            seg.end
        );
        ensure!(!(seg.sacked && seg.lost), "record [{:?}, {:?}) is both SACKed and lost", seg.start, seg.end);
        sacked += if seg.sacked { seg.len() } else { 0 };
        lost += if seg.lost { seg.len() } else { 0 };
        at = seg.end;
    }
    ensure!(at == nxt.max(data_start), "the sent records end at {at:?}, SND.NXT is {nxt:?}");
    ensure!(
        (sacked, lost) == (snd.sent.sacked_bytes(), snd.sent.lost_bytes()),
        "records say {sacked} SACKed / {lost} lost bytes, totals say {} / {}",
        snd.sent.sacked_bytes(),
        snd.sent.lost_bytes()
    );
    for &(l, r) in snd.scoreboard.ranges() {
        ensure!(una <= l && l < r && r <= nxt, "scoreboard range [{l:?}, {r:?}) outside [{una:?}, {nxt:?}]");
    }

    // The send buffer holds [buf_seq, buf_seq + len), and the FIN follows it.
    let expected_buf_seq = if syn_unacked {
        una + 1
    } else if tcb.fin_acked() {
        una - 1
    } else {
        una
    };
    ensure!(snd.buf_seq == expected_buf_seq, "send buffer starts at {:?}, SND.UNA is {una:?}", snd.buf_seq);
    let end = snd.buf_seq + snd.buffer.len() + usize::from(tcb.fin_seq().is_some());
    ensure!(nxt <= end.max(data_start), "SND.NXT {nxt:?} beyond the buffered data and FIN ({end:?})");

    // Liveness: something will send what is waiting.
    let time_wait = matches!(tcb.state, State::TimeWait);
    ensure!(
        flight == 0 || tcb.timers.is_armed(Timer::Retransmit),
        "{flight} bytes in flight and no retransmission timer"
    );
    if tcb.state.is_synchronized() && !time_wait && flight == 0 && snd.unsent() > 0 {
        ensure!(
            tcb.timers.is_armed(Timer::Persist),
            "{} bytes waiting, nothing in flight, no persist timer",
            snd.unsent()
        );
    }
    Ok(())
}

fn check_receiver(tcb: &Tcb) -> Result<(), String> {
    let rcv = &tcb.rcv;
    let (buffered, held) = (rcv.buffer.len(), rcv.assembler.bytes_held());
    ensure!(
        buffered + rcv.rcv_wnd() <= rcv.capacity,
        "{buffered} bytes buffered and a window of {} promised, buffer {}",
        rcv.rcv_wnd(),
        rcv.capacity
    );
    ensure!(
        buffered + held <= rcv.capacity,
        "{buffered} bytes in order and {held} out of order, buffer {}",
        rcv.capacity
    );
    let (max_bytes, max_ranges) = rcv.assembler.limits();
    ensure!(held <= max_bytes, "{held} bytes out of order, bound {max_bytes}");
    ensure!(rcv.assembler.ranges() <= max_ranges, "{} out-of-order ranges, bound {max_ranges}", rcv.assembler.ranges());
    Ok(())
}

fn check_state(tcb: &Tcb) -> Result<(), String> {
    let (state, snd) = (tcb.state, &tcb.snd);
    if state == State::SynSent {
        ensure!(snd.snd_nxt == snd.iss + 1 && snd.snd_una == snd.iss, "SYN-SENT with more than the SYN sent");
        return Ok(());
    }
    let fin_acked = matches!(state, State::FinWait2 | State::TimeWait);
    ensure!(tcb.fin_acked() == fin_acked, "our FIN acknowledged: {}", tcb.fin_acked());
    let time_wait = tcb.timers.is_armed(Timer::TimeWait);
    ensure!(time_wait == (state == State::TimeWait), "the 2MSL timer runs: {time_wait}");
    if tcb.rcv.ack == AckState::Delayed {
        ensure!(tcb.timers.is_armed(Timer::DelayedAck), "an ACK is delayed but the delayed-ACK timer is stopped");
    }
    Ok(())
}
