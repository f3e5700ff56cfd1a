//! tokio's `AsyncRead` and `AsyncWrite` for the async TCP stream and its
//! halves (the `tokio` cargo feature), so tokio's utilities — `copy`,
//! `BufReader`, `read_to_end`, codecs — work on tunstack connections.
//!
//! `poll_flush` has nothing to do (a write hands its bytes to the stack);
//! `poll_shutdown` sends FIN after the queued data (`Shutdown::Write`).

use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{OwnedReadHalf, OwnedWriteHalf, TcpStream};

/// Fill `buf` with what `poll` reads into its unfilled part.
fn fill(buf: &mut ReadBuf<'_>, poll: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>) -> Poll<io::Result<()>> {
    let n = ready!(poll(buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        fill(buf, |b| TcpStream::poll_read(&self, cx, b))
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        fill(buf, |b| OwnedReadHalf::poll_read(&self, cx, b))
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        OwnedWriteHalf::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown())
    }
}
