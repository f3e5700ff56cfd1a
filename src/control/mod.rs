//! The control socket: a running `tunstack serve` answers questions about its
//! sockets and counters over a Unix domain socket, for `tunstack ss` and
//! `tunstack stats` (and anything else that speaks one JSON line per request).
//!
//! ```text
//!   tunstack ss ──connect──▶ /run/tunstack/tun0.4026532290.sock (mode 0600)
//!                                   │ server.rs: SO_PEERCRED check, bounded lines
//!                                   │ protocol.rs: {"cmd":"sockets"} → reply
//!                                   ▼
//!                   answer(): Runtime::with_stack(Stack::socket_table)
//!                                   │  (the one stack lock, held for one snapshot)
//!                                   ▼
//!                   Stack::socket_table: a pure function of the sans-IO core
//! ```
//!
//! | file | job |
//! |------|-----|
//! | (in the core) | [`Stack::socket_table`](crate::Stack::socket_table): the rows, no IO |
//! | `protocol.rs` | requests and replies as JSON lines, with their bounds |
//! | `server.rs` | the socket file, permissions, peer check, one thread per client |
//! | `client.rs` | one request, one reply |
//! | `format.rs` | the table and the counters as text |
//!
//! The core knows nothing of this: the control layer sits beside the socket
//! layer, above the runtime, and reads the stack the way a socket call does.

pub mod client;
pub mod format;
pub mod protocol;
pub mod server;
#[cfg(test)]
mod tests;

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub use crate::stack::SocketRow;
pub use protocol::{Reply, Request};
pub use server::ControlServer;

use crate::runtime::Runtime;

/// Where `serve` puts its control socket when not told, and where `ss` and
/// `stats` look: `/run/tunstack/<tun>.<netns>.sock`.
///
/// A TUN's name is unique only within its network namespace — every test and
/// the demo run a `tun0` of their own — so the path also carries the namespace's
/// inode number (what `ls -L -i /proc/self/ns/net` or `lsns -t net` show).
/// `tunstack ss` run in the same namespace as `serve` finds it with no flags, as
/// Linux's `ss` lists the sockets of the namespace it runs in. A user other than
/// root keeps it under `$XDG_RUNTIME_DIR/tunstack/` when that is set.
pub fn default_path(tun: &str) -> io::Result<PathBuf> {
    let netns = std::fs::metadata("/proc/self/ns/net")
        .map_err(|e| io::Error::new(e.kind(), format!("/proc/self/ns/net: {e}")))?
        .ino();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime_dir) if !root => PathBuf::from(runtime_dir).join("tunstack"),
        _ => PathBuf::from("/run/tunstack"),
    };
    Ok(dir.join(format!("{tun}.{netns}.sock")))
}

/// The answer of a running stack to one request.
pub fn answer(runtime: &Runtime, request: Request) -> Reply {
    match request {
        Request::Sockets => Reply::Sockets { sockets: runtime.with_stack(|stack, _| stack.socket_table()) },
        Request::Stats => Reply::Stats { counters: Box::new(runtime.counters()) },
    }
}
