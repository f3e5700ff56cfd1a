//! Socket handles: the numbers a program holds for its sockets.
//!
//! Each table numbers its sockets from 1 upwards and never reuses a number, so a
//! stale handle finds nothing rather than someone else's socket. The numbers are
//! the stack's own, never chosen by a peer (the event queue relies on that).

/// Names one TCP connection or listener of a [`Stack`](crate::Stack). Never
/// reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle(pub(crate) u64);

/// Names one UDP socket of a [`Stack`](crate::Stack). Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle(pub(crate) u64);
