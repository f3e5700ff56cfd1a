//! The client side of the control socket: one request, one reply.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{encode, Reply, Request, MAX_REPLY};

/// How long the client waits for the server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Send `request` to the control socket at `path` and read the reply. An `error`
/// reply is returned as a [`Reply::Error`], not as `Err`: the server answered.
pub fn request(path: &Path, request: Request) -> io::Result<Reply> {
    let stream = UnixStream::connect(path).map_err(|e| explain_connect(path, e))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // A server that refuses a client answers at once and hangs up, maybe before
    // the request is written: the write then fails (EPIPE) but the reply waits.
    if let Err(e) = (&stream).write_all(&encode(&request)) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e);
        }
    }
    let mut line = Vec::new();
    BufReader::new(&stream).take(MAX_REPLY as u64).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{}: the server closed the connection without a complete reply", path.display()),
        ));
    }
    serde_json::from_slice(&line)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: bad reply: {e}", path.display())))
}

/// Turn a failed `connect` into a message that says what to do.
fn explain_connect(path: &Path, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            "no tunstack serve answers there (is it running in this network namespace, with this --tun? \
             or pass its --control PATH)"
        }
        io::ErrorKind::PermissionDenied => "the socket (mode 0600) belongs to another user",
        _ => "cannot connect",
    };
    io::Error::new(e.kind(), format!("{}: {hint}: {e}", path.display()))
}
