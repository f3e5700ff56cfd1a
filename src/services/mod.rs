//! The classic small services of the early Internet, served over the stack's
//! sockets: each is a few lines of ordinary socket code, which is the point — they
//! show the API from a program's side.
//!
//! | port | service | RFC | TCP | UDP |
//! |------|---------|-----|-----|-----|
//! | 7    | echo    | 862 — sends back what it receives | ✓ | ✓ |
//! | 9    | discard | 863 — throws away what it receives | ✓ | ✓ |
//! | 13   | daytime | 867 — the date and time as text | ✓ | ✓ |
//! | 19   | chargen | 864 — a stream of printable characters | ✓ | ✓ |
//! | 80   | http    | 9112 — the live dashboard (`/`, `/api/state.json`), `GET /bytes/N`, and `/sockets` (the socket table as text) | ✓ | |

mod chargen;
mod dashboard;
mod daytime;
mod http;
mod raw;
mod tcp;
mod udp;

use crate::runtime::Runtime;

pub use chargen::chargen_line;
pub use daytime::daytime_string;
pub use raw::spawn_raw_echo;
pub use tcp::{spawn_tcp, TcpService};
pub use udp::{recv_queue_bytes, spawn_udp, UdpService};

/// A running service. Every service is a task on the runtime's driver thread
/// (`Runtime::spawn_task`; for TCP, a task per connection), ended by the
/// runtime's shutdown.
pub struct RunningService {
    /// `tcp/7 echo`-style label.
    pub label: String,
}

/// The address a service binds: `0.0.0.0`, or with an IPv6 address
/// (`--addr6`) the dual-stack `::`, which takes both families (IPv4 clients
/// seen as `::ffff:a.b.c.d`) unless the stack binds IPv6-only
/// (`--bindv6only`).
fn any_address(runtime: &Runtime) -> &'static str {
    if runtime.with_stack(|stack, _| stack.config().addr6.is_some()) {
        "::"
    } else {
        "0.0.0.0"
    }
}
