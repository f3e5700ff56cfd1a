//! Printing the [`ast`](super::ast) back in packetdrill's notation, for messages
//! and the `-v` trace: a failed comparison shows the script's packet beside the
//! one the stack sent (which [`Seg`](super::packet::Seg) prints in the same
//! notation).
//!
//! The output is what the parser reads: `parse(print(p)) == p` for every packet
//! the parser accepts (the event's time and line aside).
//! Each value prints in O(its options) with one small allocation per option.

use std::fmt;

use super::ast::{icmp_code_name, Call, DatagramSpec, Direction, Expr, IcmpSpec, OptSpec, PacketSpec};
use super::packet::flag_letters;

impl fmt::Display for OptSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptSpec::Eol => f.write_str("eol"),
            OptSpec::Nop => f.write_str("nop"),
            OptSpec::Mss(m) => write!(f, "mss {m}"),
            OptSpec::SackOk => f.write_str("sackOK"),
            OptSpec::Ts { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            OptSpec::Wscale(s) => write!(f, "wscale {s}"),
            OptSpec::Sack(blocks) => {
                let b: Vec<String> = blocks.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                write!(f, "sack {}", b.join(" "))
            }
        }
    }
}

/// A packet as the script wrote it: `> P. 1:11(10) ack 1 win 257 <nop,nop,TS val 1 ecr 2>`.
/// The ACK number and window only when the script gave them.
impl fmt::Display for PacketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.dir == Direction::Inbound { '<' } else { '>' };
        let dir = match self.port {
            Some(port) => format!("{dir}:{port}"),
            None => dir.to_string(),
        };
        let end = self.start.wrapping_add(self.len);
        if self.any_seq {
            write!(f, "{dir} {} ...({})", flag_letters(self.flags), self.len)?;
        } else {
            write!(f, "{dir} {} {}:{}({})", flag_letters(self.flags), self.start, end, self.len)?;
        }
        if let Some(ack) = self.ack {
            write!(f, " ack {ack}")?;
        }
        if let Some(win) = self.win {
            write!(f, " win {win}")?;
        }
        if self.any_options {
            f.write_str(" <...>")?;
        } else if !self.options.is_empty() {
            let o: Vec<String> = self.options.iter().map(ToString::to_string).collect();
            write!(f, " <{}>", o.join(","))?;
        }
        Ok(())
    }
}

/// `< udp (100)`.
impl fmt::Display for DatagramSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.dir == Direction::Inbound { '<' } else { '>' };
        write!(f, "{dir} udp ({})", self.len)
    }
}

/// `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`.
impl fmt::Display for IcmpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.dir == Direction::Inbound { '<' } else { '>' };
        write!(f, "{dir} icmp unreachable {}", icmp_code_name(self.code).unwrap_or("?"))?;
        if let Some(mtu) = self.mtu {
            write!(f, " mtu {mtu}")?;
        }
        if let Some((start, len)) = self.quoted {
            write!(f, " [{start}:{}({len})]", start.wrapping_add(len))?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int(v) => write!(f, "{v}"),
            Expr::Name(n) => f.write_str(n),
            Expr::Or(parts) => {
                let p: Vec<String> = parts.iter().map(ToString::to_string).collect();
                f.write_str(&p.join("|"))
            }
            Expr::List(items) => {
                let i: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", i.join(", "))
            }
            Expr::Str(s) => write!(f, "\"{s}\""),
            Expr::Struct(fields) => {
                let s: Vec<String> = fields.iter().map(|(n, v)| format!("{n}={v}")).collect();
                write!(f, "{{{}}}", s.join(", "))
            }
        }
    }
}

/// A call as the script wrote it: `read(4, ..., 10) = -1 EAGAIN`.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        write!(f, "{}({}) = {}", self.name, args.join(", "), self.ret)?;
        if let Some(errno) = &self.errno {
            write!(f, " {errno}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::script::ast::{Action, PacketSpec};
    use crate::script::parser::parse;

    fn packet(line: &str) -> PacketSpec {
        let script = parse(&format!("0 {line}\n")).expect("valid");
        match script.events.into_iter().next().map(|e| e.action) {
            Some(Action::Packet(p)) => p,
            other => panic!("not a packet: {other:?}"),
        }
    }

    #[test]
    fn packets_print_as_written() {
        for line in [
            "> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 7,nop,wscale 7>",
            "< P. 1:1001(1000) ack 1 win 257",
            "> . 1:1(0) ack 1001",
            "<:40002 S 0:0(0) win 65535 <mss 1460>",
            "< . 1:1(0) ack 1 win 257 <nop,nop,sack 1001:2001 3001:4001>",
            "< S 0:0(0) win 32767 <mss 1460,sackOK,eol,eol>",
            "> F. 4294967295:4294967295(0) ack 0",
            "> S. ...(0) ack 65538 win 65535 <mss 1460,sackOK,eol,eol>",
            "> S 0:0(0) <...>",
        ] {
            assert_eq!(packet(line).to_string(), line);
        }
    }

    #[test]
    fn printing_round_trips_through_the_parser() {
        let p = packet("< R. 7:17(10) ack 3 win 0 <mss 536>");
        assert_eq!(packet(&p.to_string()), p);
    }

    #[test]
    fn calls_print_as_written() {
        for line in [
            "fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
            "getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0",
            "read(4, ..., -1) = -1 EAGAIN",
        ] {
            let script = parse(&format!("0 {line}\n")).expect("valid");
            match &script.events[0].action {
                crate::script::ast::Action::Call(c) => assert_eq!(c.to_string(), line),
                other => panic!("not a call: {other:?}"),
            }
        }
    }

    #[test]
    fn the_end_of_a_wrapping_range_wraps() {
        let p = packet("< P. 4294967290:4(10) ack 1 win 1");
        assert_eq!(p.to_string(), "< P. 4294967290:4(10) ack 1 win 1");
    }
}
