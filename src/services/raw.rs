//! Echo over a raw IP protocol: every datagram of protocol P that arrives is sent
//! back to its source as a datagram of protocol P — the smallest service a new
//! protocol on IP can be tested against (RFC 3692's 253 and 254 are for
//! experiments). With an IPv6 address the stack serves it over both families:
//! a raw socket is of one family (`src/raw/`), so there are two, one task each.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{recv_queue_bytes, RunningService};
use crate::aio::RawSocket;
use crate::Runtime;

/// Serve echo on IP protocol `protocol` as tasks on the runtime's driver
/// thread until the runtime stops — over IPv4, and over IPv6 too when the
/// stack has an IPv6 address; `queue` bounds each socket's receive queue
/// (datagrams).
pub fn spawn_raw_echo(runtime: &Runtime, protocol: u8, queue: usize) -> io::Result<RunningService> {
    let has_v6 = runtime.with_stack(|stack, _| stack.config().addr6.is_some());
    let mut any = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
    if has_v6 {
        any.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    }
    for local in any {
        let socket = RawSocket::bind(runtime, protocol, local)?;
        socket.set_recv_queue_capacity(queue, recv_queue_bytes(queue))?;
        runtime.spawn_task(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if socket.send_to(&buf[..n], from).await.is_err() {
                    tracing::debug!(protocol, %from, "echo not sent");
                }
            }
        });
    }
    Ok(RunningService { label: format!("raw/{protocol} echo") })
}
