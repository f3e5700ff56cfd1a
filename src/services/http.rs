//! A small HTTP/1.1 server (RFC 9112): enough for `curl` and a browser.
//!
//! * `GET /` — the live dashboard (see [`super::dashboard`]): sockets, queues,
//!   counters, state transitions and a time-sequence graph, redrawn twice a
//!   second from
//! * `GET /api/state.json` — the stack's state as JSON, read under one lock;
//! * `GET /bytes/N` — N bytes of a repeating pattern, for downloads;
//! * `GET /sockets` — the stack's live socket table and counters, as plain text
//!   (what `tunstack ss` and `tunstack stats` print; reload to watch connections
//!   come and go — the request's own connection is in it, ESTABLISHED);
//! * anything else — 404 (or 405 for methods other than GET/HEAD).
//!
//! One request per connection (`Connection: close`), which keeps the code short.

use std::io;

use super::dashboard;
use crate::aio::TcpStream;
use crate::control::format;

/// Largest request head we read.
const MAX_HEAD: usize = 16 * 1024;
/// Largest `/bytes/N` we serve: 16 GiB.
const MAX_BYTES: u64 = 16 << 30;

/// Read one request and answer it.
pub(crate) async fn serve_connection(stream: &TcpStream) -> io::Result<()> {
    let Some(head) = read_head(stream).await? else {
        return Ok(());
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if method != "GET" && method != "HEAD" {
        return respond(stream, "405 Method Not Allowed", "text/plain", b"only GET and HEAD\n", method == "HEAD").await;
    }
    let head_only = method == "HEAD";
    if target == "/" || target == "/index.html" {
        return respond(stream, "200 OK", "text/html; charset=utf-8", dashboard::PAGE.as_bytes(), head_only).await;
    }
    if target == "/api/state.json" {
        let state = dashboard::state_json(stream.runtime(), stream.peer_addr().ok());
        return respond(stream, "200 OK", "application/json", &state, head_only).await;
    }
    if target == "/sockets" {
        let (rows, counters) = stream.runtime().with_stack(|stack, _| (stack.socket_table(), stack.counters().clone()));
        let page = format::sockets_page(&rows, &counters);
        return respond(stream, "200 OK", "text/plain; charset=utf-8", page.as_bytes(), head_only).await;
    }
    if let Some(n) = target.strip_prefix("/bytes/").and_then(|n| n.parse::<u64>().ok()) {
        if n > MAX_BYTES {
            return respond(stream, "400 Bad Request", "text/plain", b"too many bytes\n", head_only).await;
        }
        return send_bytes(stream, n, head_only).await;
    }
    respond(stream, "404 Not Found", "text/plain", b"not found\n", head_only).await
}

/// The request head up to the blank line, or `None` if the client closed first.
async fn read_head(stream: &TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    // On the heap: an array here would sit in every connection task's future,
    // idle or not.
    let mut buf = vec![0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too large"));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

async fn respond(stream: &TcpStream, status: &str, content_type: &str, body: &[u8], head_only: bool) -> io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nServer: tunstack\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    Ok(())
}

/// `n` bytes of the pattern `0, 1, …, 255, 0, 1, …` so a client can verify them.
async fn send_bytes(stream: &TcpStream, n: u64, head_only: bool) -> io::Result<()> {
    let header = format!(
        "HTTP/1.1 200 OK\r\nServer: tunstack\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(header.as_bytes()).await?;
    if head_only {
        return Ok(());
    }
    let block: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();
    let mut left = n;
    while left > 0 {
        let take = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        stream.write_all(&block[..take]).await?;
        left -= take as u64;
    }
    Ok(())
}
