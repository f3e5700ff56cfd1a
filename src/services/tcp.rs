//! The TCP services: a listener per port, a task per connection, written with
//! the async API (`crate::aio`) and run on the runtime's driver thread.

use std::io;
use std::net::Shutdown;
use std::time::Duration;

use super::{any_address, chargen_line, daytime_string, http, RunningService};
use crate::aio::{self, TcpListener, TcpStream};
use crate::ports::{services::service_name, Protocol};
use crate::runtime::Runtime;

/// What a TCP service does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpService {
    Echo,
    Discard,
    Daytime,
    Chargen,
    Http,
}

impl TcpService {
    /// Every TCP service `serve` runs.
    pub const ALL: [TcpService; 5] =
        [TcpService::Echo, TcpService::Discard, TcpService::Daytime, TcpService::Chargen, TcpService::Http];

    pub fn port(self) -> u16 {
        match self {
            TcpService::Echo => 7,
            TcpService::Discard => 9,
            TcpService::Daytime => 13,
            TcpService::Chargen => 19,
            TcpService::Http => 80,
        }
    }

    /// The service name from the port table.
    pub fn name(self) -> &'static str {
        service_name(Protocol::Tcp, self.port()).unwrap_or("unknown")
    }

    /// Serve one connection to its end.
    async fn serve(self, stream: TcpStream) -> io::Result<()> {
        match self {
            TcpService::Echo => {
                // RFC 862: send back every byte until the client closes.
                let mut buf = ReadBuffer::default();
                loop {
                    let data = buf.read_from(&stream).await?;
                    if data.is_empty() {
                        return Ok(());
                    }
                    stream.write_all(data).await?;
                }
            }
            TcpService::Discard => {
                // RFC 863: throw it away — without copying it first, and with
                // no buffer to hold (`MSG_TRUNC`).
                while stream.discard(usize::MAX).await? > 0 {}
                Ok(())
            }
            TcpService::Daytime => {
                // RFC 867: send the time and close; whatever the client sent is ignored.
                stream.write_all(daytime_string(std::time::SystemTime::now()).as_bytes()).await?;
                finish(stream).await
            }
            TcpService::Chargen => {
                // RFC 864: characters until the client closes (a write then fails).
                let mut n = 0u64;
                loop {
                    let mut block = Vec::with_capacity(74 * 64);
                    for _ in 0..64 {
                        block.extend_from_slice(&chargen_line(n));
                        n += 1;
                    }
                    stream.write_all(&block).await?;
                }
            }
            TcpService::Http => {
                http::serve_connection(&stream).await?;
                finish(stream).await
            }
        }
    }
}

/// A read buffer that costs nothing while its connection is idle: it is freed
/// when a read finds nothing and the task is about to wait, and allocated again
/// once the stream is readable; a busy connection keeps reading into the same
/// one. Its size starts at 1 KiB and doubles up to 64 KiB each time a read fills
/// it, so a busy connection reads in large pieces. (A fixed 64 KiB buffer per
/// connection was a third of an idle connection's memory, and a kept 1 KiB one
/// still a fifth.)
struct ReadBuffer {
    size: usize,
    buf: Vec<u8>,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer { size: Self::FIRST, buf: Vec::new() }
    }
}

impl ReadBuffer {
    const FIRST: usize = 1024;
    const MAX: usize = 64 * 1024;

    /// Read once from `stream`, waiting for data if there is none; the bytes
    /// read (empty at end of stream).
    async fn read_from(&mut self, stream: &TcpStream) -> io::Result<&[u8]> {
        let ready = match self.buf.len() {
            0 => None,
            _ => match stream.try_read(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                other => Some(other?),
            },
        };
        let n = match ready {
            Some(n) => n,
            None => {
                // Idle: hold no buffer while waiting.
                self.buf = Vec::new();
                stream.readable().await?;
                self.buf.resize(self.size, 0);
                stream.read(&mut self.buf).await?
            }
        };
        if n == self.buf.len() && n < Self::MAX {
            self.size *= 2;
            self.buf.resize(self.size, 0);
        }
        Ok(&self.buf[..n])
    }
}

/// Close our side and wait (at most 10 s) for the client's FIN, so unread
/// request bytes do not turn our close into a reset.
async fn finish(stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    let runtime = stream.runtime().clone();
    // On the heap: an array here would sit in every connection task's future.
    let mut sink = vec![0u8; 4096];
    aio::timeout(&runtime, Duration::from_secs(10), async {
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await?
}

/// Listen on the service's port and serve each connection as a task of its own
/// on the runtime's driver thread (`Runtime::spawn_task`): no thread per
/// connection, and a connection's reads and writes happen on the thread that
/// reads the device. Runs until the runtime stops.
pub fn spawn_tcp(runtime: &Runtime, service: TcpService) -> io::Result<RunningService> {
    let listener = TcpListener::bind(runtime, (any_address(runtime), service.port()))?;
    let label = format!("tcp/{} {}", service.port(), service.name());
    let tasks = runtime.clone();
    runtime.spawn_task(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            tasks.spawn_task(async move {
                if let Err(e) = service.serve(stream).await {
                    tracing::debug!(service = service.name(), %peer, error = %e, "connection ended");
                }
            });
        }
    });
    Ok(RunningService { label })
}
