//! The control protocol: one JSON object per line each way.
//!
//! ```text
//! → {"cmd":"sockets"}
//! ← {"reply":"sockets","sockets":[{"netid":"tcp","state":"LISTEN",…},…]}
//! → {"cmd":"stats"}
//! ← {"reply":"stats","counters":{"ip_rx_packets":12,…}}
//! → hello
//! ← {"reply":"error","error":"malformed request: expected value at line 1 column 1"}
//! ```
//!
//! A request is at most [`MAX_REQUEST`] bytes up to its newline; anything that is
//! not a known request gets an `error` reply, and the connection stays usable
//! (except after an oversize request, whose end the server cannot find: it
//! answers and hangs up). Lines make the protocol easy to try by hand:
//! `echo '{"cmd":"stats"}' | socat - UNIX-CONNECT:/run/tunstack/…`.

use serde::{Deserialize, Serialize};

use crate::counters::Counters;
use crate::stack::SocketRow;

/// Longest request line the server reads, newline excluded.
pub const MAX_REQUEST: usize = 4096;
/// Longest reply line a client reads (a socket table of ~65,000 connections).
pub const MAX_REPLY: usize = 64 << 20;

/// What a client asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    /// The socket table (`tunstack ss`).
    Sockets,
    /// Every counter (`tunstack stats`).
    Stats,
}

/// What the server answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "lowercase")]
pub enum Reply {
    Sockets {
        sockets: Vec<SocketRow>,
    },
    /// Boxed: the counters are large beside the other variants.
    Stats {
        counters: Box<Counters>,
    },
    /// The request was refused or not understood; the text says why.
    Error {
        error: String,
    },
}

impl Reply {
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error { error: text.into() }
    }
}

/// Read one request line (without its newline). Errors are the text of the
/// `error` reply.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("empty request: send one JSON object per line, e.g. {\"cmd\":\"sockets\"}".into());
    }
    serde_json::from_slice(line).map_err(|e| format!("malformed request: {e}"))
}

/// One JSON line, newline included.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_else(|e| {
        // Only a map with non-string keys can fail to serialize; none of ours has one.
        serde_json::to_vec(&Reply::error(format!("cannot encode the reply: {e}"))).unwrap_or_default()
    });
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_requests_parse() {
        assert_eq!(parse_request(br#"{"cmd":"sockets"}"#), Ok(Request::Sockets));
        assert_eq!(parse_request(b"{\"cmd\": \"stats\"}\r"), Ok(Request::Stats));
        assert_eq!(encode(&Request::Stats), b"{\"cmd\":\"stats\"}\n");
    }

    #[test]
    fn bad_requests_say_why() {
        let err = |line: &[u8]| parse_request(line).expect_err("must be refused");
        assert!(err(b"hello").starts_with("malformed request: expected value"), "{}", err(b"hello"));
        assert!(err(br#"{"cmd":"reboot"}"#).contains("unknown variant `reboot`"), "{}", err(br#"{"cmd":"reboot"}"#));
        assert!(err(br#"{"verb":"sockets"}"#).contains("missing field `cmd`"));
        assert!(err(b"  ").starts_with("empty request"));
        assert!(err(&[0xff, 0xfe]).starts_with("malformed request"));
        assert_eq!(err(&vec![b'x'; MAX_REQUEST + 1]), format!("request longer than {MAX_REQUEST} bytes"));
    }

    #[test]
    fn replies_round_trip() {
        let counters = Counters { udp_rx_queue_full: 4, ..Counters::default() };
        for reply in
            [Reply::Stats { counters: Box::new(counters) }, Reply::error("no"), Reply::Sockets { sockets: Vec::new() }]
        {
            let line = encode(&reply);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
            assert_eq!(serde_json::from_slice::<Reply>(&line).expect("decodes"), reply);
        }
        assert_eq!(encode(&Reply::error("no")), b"{\"reply\":\"error\",\"error\":\"no\"}\n");
    }
}
