//! The UDP services: one datagram in, at most one datagram out.

use std::borrow::Cow;
use std::io;

use super::{any_address, chargen_line, daytime_string, RunningService};
use crate::aio::UdpSocket;
use crate::ports::{services::service_name, Protocol};
use crate::runtime::Runtime;

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
    /// (Echo answers with the request itself: no copy.)
    fn answer<'a>(self, request: &'a [u8], counter: &mut u64) -> Option<Cow<'a, [u8]>> {
        match self {
            UdpService::Echo => Some(Cow::Borrowed(request)),
            UdpService::Discard => None,
            UdpService::Daytime => Some(Cow::Owned(daytime_string(std::time::SystemTime::now()).into_bytes())),
            UdpService::Chargen => {
                // RFC 864: a UDP datagram of 0–512 characters; we send one 74-byte line,
                // rotating through the printable characters with each answer.
                *counter += 1;
                Some(Cow::Owned(chargen_line(*counter)))
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

/// Bind `service` on the stack and serve it as a task on the runtime's driver
/// thread until the runtime stops: a datagram is answered on the thread that
/// read it from the device. `queue` bounds the socket's receive queue
/// (datagrams). With an IPv6 address (`--addr6`) the socket is one dual-stack
/// `[::]` socket, answering both families (IPv4 clients seen as
/// `::ffff:a.b.c.d`, answered over IPv4).
pub fn spawn_udp(runtime: &Runtime, service: UdpService, queue: usize) -> io::Result<RunningService> {
    let socket = UdpSocket::bind(runtime, (any_address(runtime), service.port()))?;
    socket.set_recv_queue_capacity(queue, recv_queue_bytes(queue))?;
    runtime.spawn_task(async move {
        let mut buf = vec![0u8; 65_536];
        let mut counter = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Some(reply) = service.answer(&buf[..n], &mut counter) {
                if socket.send_to(&reply, from).await.is_err() {
                    tracing::debug!(service = service.name(), %from, "reply not sent");
                }
            }
        }
    });
    Ok(RunningService { label: format!("udp/{} {}", service.port(), service.name()) })
}
