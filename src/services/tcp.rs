//! The TCP services: a listener per port, a thread per connection.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use super::{chargen_line, daytime_string, http, RunningService};
use crate::ports::{services::service_name, Protocol};
use crate::runtime::Runtime;
use crate::socket::{TcpListener, TcpStream};

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
    fn serve(self, mut stream: TcpStream) -> io::Result<()> {
        match self {
            TcpService::Echo => {
                // RFC 862: send back every byte until the client closes.
                let mut buf = ReadBuffer::default();
                loop {
                    let data = buf.read_from(&mut stream)?;
                    if data.is_empty() {
                        return Ok(());
                    }
                    stream.write_all(data)?;
                }
            }
            TcpService::Discard => {
                let mut buf = ReadBuffer::default();
                while !buf.read_from(&mut stream)?.is_empty() {}
                Ok(())
            }
            TcpService::Daytime => {
                // RFC 867: send the time and close; whatever the client sent is ignored.
                stream.write_all(daytime_string(std::time::SystemTime::now()).as_bytes())?;
                finish(stream)
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
                    stream.write_all(&block)?;
                }
            }
            TcpService::Http => {
                http::serve_connection(&mut stream)?;
                finish(stream)
            }
        }
    }
}

/// A read buffer that costs little while its connection is idle: 1 KiB at first,
/// doubling up to 64 KiB each time a read fills it. (A fixed 64 KiB buffer per
/// connection thread was a third of the memory of an idle connection.)
#[derive(Default)]
struct ReadBuffer(Vec<u8>);

impl ReadBuffer {
    const FIRST: usize = 1024;
    const MAX: usize = 64 * 1024;

    /// Read once from `stream`; the bytes read (empty at end of stream).
    fn read_from(&mut self, stream: &mut TcpStream) -> io::Result<&[u8]> {
        if self.0.is_empty() {
            self.0.resize(Self::FIRST, 0);
        }
        let n = stream.read(&mut self.0)?;
        if n == self.0.len() && n < Self::MAX {
            self.0.resize(n * 2, 0);
        }
        Ok(&self.0[..n])
    }
}

/// Close our side and wait (bounded) for the client's FIN, so unread request bytes
/// do not turn our close into a reset.
fn finish(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut sink = [0u8; 4096];
    while stream.read(&mut sink)? > 0 {}
    Ok(())
}

/// Listen on the service's port and serve each connection on its own thread until
/// the runtime stops.
pub fn spawn_tcp(runtime: &Runtime, service: TcpService) -> io::Result<RunningService> {
    let listener = TcpListener::bind(runtime, ("0.0.0.0", service.port()))?;
    let label = format!("tcp/{} {}", service.port(), service.name());
    let thread = std::thread::Builder::new().name(format!("tcp-{}", service.name())).spawn(move || {
        while let Ok((stream, peer)) = listener.accept() {
            let spawned = std::thread::Builder::new().name(format!("tcp-{}-conn", service.name())).spawn(move || {
                if let Err(e) = service.serve(stream) {
                    tracing::debug!(service = service.name(), %peer, error = %e, "connection ended");
                }
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot spawn a connection thread");
            }
        }
    })?;
    Ok(RunningService { label, thread })
}
