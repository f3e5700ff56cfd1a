//! Echo over a raw IP protocol: every datagram of protocol P that arrives is sent
//! back to its source as a datagram of protocol P — the smallest service a new
//! protocol on IP can be tested against (RFC 3692's 253 and 254 are for
//! experiments).

use std::io;
use std::net::Ipv4Addr;

use super::{recv_queue_bytes, RunningService};
use crate::aio::RawSocket;
use crate::Runtime;

/// Serve echo on IP protocol `protocol` as a task on the runtime's driver
/// thread until the runtime stops; `queue` bounds the socket's receive queue
/// (datagrams).
pub fn spawn_raw_echo(runtime: &Runtime, protocol: u8, queue: usize) -> io::Result<RunningService> {
    let socket = RawSocket::bind(runtime, protocol, Ipv4Addr::UNSPECIFIED)?;
    socket.set_recv_queue_capacity(queue, recv_queue_bytes(queue))?;
    runtime.spawn_task(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if socket.send_to(&buf[..n], from).await.is_err() {
                tracing::debug!(protocol, %from, "echo not sent");
            }
        }
    });
    Ok(RunningService { label: format!("raw/{protocol} echo") })
}
