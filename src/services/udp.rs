//! The UDP services: one datagram in, at most one datagram out.

use std::io;

use super::{chargen_line, daytime_string, RunningService};
use crate::ports::{services::service_name, Protocol};
use crate::runtime::Runtime;
use crate::socket::UdpSocket;

/// What a UDP service does with each datagram it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpService {
    Echo,
    Discard,
    Daytime,
    Chargen,
}

impl UdpService {
    /// Every classic UDP service.
    pub const ALL: [UdpService; 4] = [UdpService::Echo, UdpService::Discard, UdpService::Daytime, UdpService::Chargen];

    /// The well-known port.
    pub fn port(self) -> u16 {
        match self {
            UdpService::Echo => 7,
            UdpService::Discard => 9,
            UdpService::Daytime => 13,
            UdpService::Chargen => 19,
        }
    }

    /// The service name from the port table.
    pub fn name(self) -> &'static str {
        service_name(Protocol::Udp, self.port()).unwrap_or("unknown")
    }

    /// The answer to one datagram, if any.
    fn answer(self, request: &[u8], counter: &mut u64) -> Option<Vec<u8>> {
        match self {
            UdpService::Echo => Some(request.to_vec()),
            UdpService::Discard => None,
            UdpService::Daytime => Some(daytime_string(std::time::SystemTime::now()).into_bytes()),
            UdpService::Chargen => {
                // RFC 864: a UDP datagram of 0–512 characters; we send one 74-byte line,
                // rotating through the printable characters with each answer.
                *counter += 1;
                Some(chargen_line(*counter))
            }
        }
    }
}

/// The byte bound that goes with a bound of `datagrams`: room for that many
/// datagrams of the largest size (64 KiB), capped at 64 MiB, so the datagram count
/// is what fills first.
pub fn recv_queue_bytes(datagrams: usize) -> usize {
    datagrams.saturating_mul(65_536).min(64 << 20)
}

/// Bind `service` on the stack and serve it on a thread until the runtime stops.
/// `queue` bounds the socket's receive queue (datagrams). With an IPv6 address
/// (`--addr6`) the socket is one dual-stack `[::]` socket, answering both
/// families (IPv4 clients seen as `::ffff:a.b.c.d`, answered over IPv4).
pub fn spawn_udp(runtime: &Runtime, service: UdpService, queue: usize) -> io::Result<RunningService> {
    let any = if runtime.with_stack(|stack, _| stack.config().addr6.is_some()) { "::" } else { "0.0.0.0" };
    let socket = UdpSocket::bind(runtime, (any, service.port()))?;
    socket.set_recv_queue_capacity(queue, recv_queue_bytes(queue))?;
    let thread = std::thread::Builder::new().name(format!("udp-{}", service.name())).spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut counter = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Some(reply) = service.answer(&buf[..n], &mut counter) {
                if socket.send_to(&reply, from).is_err() {
                    tracing::debug!(service = service.name(), %from, "reply not sent");
                }
            }
        }
    })?;
    Ok(RunningService { label: format!("udp/{} {}", service.port(), service.name()), thread })
}
