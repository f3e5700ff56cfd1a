//! How packets move between the hosts, the middlebox and the link within a step.
//!
//! A's packets go through the middlebox (if any) and then onto the link; B's go
//! onto the link. Off the link, B's packets reach A through the middlebox, A's
//! reach B. What the middlebox sends towards A waits in `to_a` for the next
//! delivery phase, at the same instant — never straight into A from inside the
//! loop that drains A's packets, where a box answering every packet of A's with
//! one for A could go on for ever without the step counter seeing it.

use std::fmt;

use super::link::Direction;
use super::trace::TraceKind;
use super::{Host, Middlebox, Side, Sim};

/// The installed middlebox.
pub(super) struct Stage(pub(super) Box<dyn Middlebox>);

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stage").field(&self.0.name()).finish()
    }
}

impl<A: Host, B: Host> Sim<A, B> {
    /// Move every packet the live hosts want to send on: A's through the
    /// middlebox, B's onto the link.
    pub(super) fn transmit(&mut self) {
        for side in [Side::A, Side::B] {
            if self.is_halted(side) {
                continue;
            }
            while let Some(packet) = self.host_mut(side).poll_transmit() {
                let direction = match side {
                    Side::A => Direction::AToB,
                    Side::B => Direction::BToA,
                };
                self.recorder.note(self.now, direction, TraceKind::Sent, &packet, None, false);
                match side {
                    Side::A => self.through_middlebox(direction, packet),
                    Side::B => self.link.send(self.now, direction, packet),
                }
            }
        }
    }

    /// Hand the hosts what is due now: the link's packets (B's through the
    /// middlebox), then what the middlebox sent towards A.
    pub(super) fn deliver_due(&mut self) {
        while let Some((direction, packet)) = self.link.poll_delivery(self.now) {
            match direction {
                Direction::AToB => self.deliver(Side::B, packet),
                Direction::BToA => self.through_middlebox(direction, packet),
            }
        }
        while let Some(packet) = self.to_a.pop_front() {
            self.deliver(Side::A, packet);
        }
    }

    /// Let the middlebox (if any) see `packet`, then send on what it made of it
    /// and what it injected.
    fn through_middlebox(&mut self, direction: Direction, packet: Vec<u8>) {
        let Some(Stage(middlebox)) = &mut self.middlebox else {
            self.onward(direction, packet);
            return;
        };
        let seen = self.recorder.active().then(|| packet.clone());
        let mut injected = Vec::new();
        let passed = middlebox.process(self.now, direction, packet, &mut injected);
        if let Some(seen) = seen {
            let name = middlebox.name().to_string();
            self.recorder.note_middlebox(self.now, direction, &name, &seen, passed.as_deref(), &injected);
        }
        if let Some(packet) = passed {
            self.onward(direction, packet);
        }
        for (direction, packet) in injected {
            self.onward(direction, packet);
        }
    }

    /// A packet past the middlebox: towards B onto the link, towards A to A.
    fn onward(&mut self, direction: Direction, packet: Vec<u8>) {
        match direction {
            Direction::AToB => self.link.send(self.now, direction, packet),
            Direction::BToA if self.middlebox.is_some() => self.to_a.push_back(packet),
            Direction::BToA => self.deliver(Side::A, packet),
        }
    }

    /// `packet` reaches `side` (unless it halted).
    fn deliver(&mut self, side: Side, packet: Vec<u8>) {
        let direction = match side {
            Side::A => Direction::BToA,
            Side::B => Direction::AToB,
        };
        let (now, halted) = (self.now, self.is_halted(side));
        let dropped = if halted { None } else { self.host_mut(side).input(now, &packet) };
        self.recorder.note(now, direction, TraceKind::Delivered, &packet, dropped, halted);
        if !halted {
            self.count_down(side);
        }
    }
}
